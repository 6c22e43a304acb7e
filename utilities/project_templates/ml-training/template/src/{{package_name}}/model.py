"""The model, written the way a LightningModule is: forward, training_step, configure_optimizer.

A linear model in plain Python so that it runs anywhere; replace it with your torch module, keeping the methods.
"""


class SGD:
    def __init__(self, params: dict, lr: float):
        self.params, self.lr = params, lr

    def step(self, grads: dict) -> None:
        for name, grad in grads.items():
            self.params[name] -= self.lr * grad


class LinearModel:
    def __init__(self):
        self.params = {"weight": 0.0, "bias": 0.0}

    def forward(self, x: float) -> float:
        return self.params["weight"] * x + self.params["bias"]

    def training_step(self, batch) -> tuple[float, dict]:
        """Mean squared error of the batch and its gradients."""
        n = len(batch)
        errors = [(self.forward(x) - y, x) for x, y in batch]
        loss = sum(e * e for e, _ in errors) / n
        grads = {"weight": sum(2 * e * x for e, x in errors) / n, "bias": sum(2 * e for e, _ in errors) / n}
        return loss, grads

    def configure_optimizer(self, lr: float) -> SGD:
        return SGD(self.params, lr)
