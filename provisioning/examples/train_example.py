"""Example training job: trains a small classifier for a few seconds and writes a checkpoint and metrics.

Uses PyTorch (on the GPUs it was given, if any) when it is installed, else NumPy. Run it yourself with
`python train_example.py --epochs 20`.
"""

import argparse
import json
import os
import time


def make_data(n=2000, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = ((x[:, 0] ** 2 + x[:, 1] ** 2) < 1.0).astype("float32")  # inside the unit circle or not
    return x.astype("float32"), y


def log_metrics(step, **values):
    """One JSON line per step in metrics.jsonl: the portal draws each value as a chart on the job's page."""
    with open("metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"step": step, **values}) + "\n")


def train_torch(epochs, lr):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(
        f"Training with PyTorch {torch.__version__} on {device} ({name}); "
        f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')!r}",
        flush=True,
    )
    x, y = (torch.tensor(a, device=device) for a in make_data())
    model = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(1, epochs + 1):
        optimizer.zero_grad()
        loss = loss_fn(model(x).squeeze(1), y)
        loss.backward()
        optimizer.step()
        accuracy = ((model(x).squeeze(1) > 0).float() == y).float().mean().item()
        print(f"epoch {epoch:3d}/{epochs}  loss {loss.item():.4f}  accuracy {accuracy:.3f}", flush=True)
        log_metrics(epoch, loss=loss.item(), accuracy=accuracy)
        time.sleep(0.05)
    torch.save(model.state_dict(), "checkpoint.pt")
    return {
        "framework": "pytorch",
        "device": device,
        "device_name": name,
        "loss": loss.item(),
        "accuracy": accuracy,
        "checkpoint": "checkpoint.pt",
    }


def train_numpy(epochs, lr):
    import numpy as np

    print("Training with NumPy on the CPU (install PyTorch to use GPUs)", flush=True)
    x, y = make_data()
    features = np.hstack([x, x**2])  # a linear model on squared features can learn a circle
    w, b = np.zeros(features.shape[1]), 0.0
    for epoch in range(1, epochs + 1):
        p = 1 / (1 + np.exp(-(features @ w + b)))
        loss = float(-np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9)))
        w -= lr * features.T @ (p - y) / len(y)
        b -= lr * float(np.mean(p - y))
        accuracy = float(np.mean((p > 0.5) == y))
        print(f"epoch {epoch:3d}/{epochs}  loss {loss:.4f}  accuracy {accuracy:.3f}", flush=True)
        log_metrics(epoch, loss=loss, accuracy=accuracy)
        time.sleep(0.05)
    np.savez("checkpoint.npz", w=w, b=b)
    return {"framework": "numpy", "device": "cpu", "loss": loss, "accuracy": accuracy, "checkpoint": "checkpoint.npz"}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args()
    started = time.time()
    if os.path.exists("metrics.jsonl"):  # a run again starts a fresh curve
        os.remove("metrics.jsonl")
    try:
        import torch  # noqa: F401

        metrics = train_torch(args.epochs, min(args.lr, 0.05))
    except ImportError:
        metrics = train_numpy(args.epochs, args.lr)
    metrics["seconds"] = round(time.time() - started, 2)
    metrics["epochs"] = args.epochs
    with open("metrics.json", "w") as handle:
        json.dump(metrics, handle, indent=2)
    print(
        f"Done: accuracy {metrics['accuracy']:.3f}; wrote {metrics['checkpoint']}, metrics.json and metrics.jsonl",
        flush=True,
    )


if __name__ == "__main__":
    main()
