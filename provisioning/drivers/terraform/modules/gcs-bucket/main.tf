terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

variable "bucket_name" {
  type        = string
  description = "Globally unique bucket name."
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "Use 3 to 63 lowercase letters, digits, dashes and underscores."
  }
}

variable "project" {
  type        = string
  description = "Google Cloud project."
}

variable "location" {
  type        = string
  description = "Region or multi-region."
  default     = "EU"
}

variable "versioning" {
  type    = bool
  default = true
}

variable "cold_after_days" {
  type        = number
  description = "Move objects to Coldline after this many days (0: never)."
  default     = 90
  validation {
    condition     = var.cold_after_days >= 0
    error_message = "The number of days cannot be negative."
  }
}

variable "labels" {
  type    = map(string)
  default = {}
}

resource "google_storage_bucket" "this" {
  name                        = var.bucket_name
  project                     = var.project
  location                    = var.location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = merge(var.labels, { managed-by = "research-portal" })

  versioning {
    enabled = var.versioning
  }

  dynamic "lifecycle_rule" {
    for_each = var.cold_after_days > 0 ? [1] : []
    content {
      condition {
        age = var.cold_after_days
      }
      action {
        type          = "SetStorageClass"
        storage_class = "COLDLINE"
      }
    }
  }
}

output "bucket" {
  value = google_storage_bucket.this.name
}

output "url" {
  value = google_storage_bucket.this.url
}
