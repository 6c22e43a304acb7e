# A module that needs no provider download: it shows the engine end to end (plan, apply, outputs, destroy) on any
# machine, air-gapped ones included. terraform_data only records its input in the state.
variable "label" {
  type        = string
  description = "A label to record."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.label))
    error_message = "Use lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "replicas" {
  type        = number
  description = "How many records to make."
  default     = 1
  validation {
    condition     = var.replicas >= 1 && var.replicas <= 5
    error_message = "Make between 1 and 5 records."
  }
}

variable "api_key" {
  type        = string
  description = "A secret that is kept encrypted and never shown in logs."
  sensitive   = true
  default     = "not-set"
}

resource "terraform_data" "record" {
  count = var.replicas
  input = { label = var.label, index = count.index }
}

output "ids" {
  value = [for r in terraform_data.record : r.id]
}

output "label" {
  value = var.label
}

output "token" {
  value     = "token-for-${var.label}-${var.api_key}"
  sensitive = true
}
