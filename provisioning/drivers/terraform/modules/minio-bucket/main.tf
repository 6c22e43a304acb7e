terraform {
  required_version = ">= 1.5"
  required_providers {
    minio = {
      source  = "aminueza/minio"
      version = "~> 3.0"
    }
  }
}

variable "bucket_name" {
  type        = string
  description = "Name of the bucket."
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "Use 3 to 63 lowercase letters, digits, dots and dashes."
  }
}

variable "versioning" {
  type    = bool
  default = false
}

variable "quota_gb" {
  type        = number
  description = "Hard limit on the bucket's size, in GB (0: none)."
  default     = 0
  validation {
    condition     = var.quota_gb >= 0
    error_message = "The quota cannot be negative."
  }
}

resource "minio_s3_bucket" "this" {
  bucket         = var.bucket_name
  acl            = "private"
  force_destroy  = false
  object_locking = false
  quota          = var.quota_gb > 0 ? var.quota_gb * 1073741824 : null
}

resource "minio_s3_bucket_versioning" "this" {
  bucket = minio_s3_bucket.this.bucket
  versioning_configuration {
    status = var.versioning ? "Enabled" : "Suspended"
  }
}

resource "minio_iam_user" "this" {
  name = "${var.bucket_name}-user"
}

resource "minio_iam_policy" "this" {
  name = "${var.bucket_name}-access"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["s3:ListBucket", "s3:GetBucketLocation"], Resource = ["arn:aws:s3:::${var.bucket_name}"] },
      { Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource = ["arn:aws:s3:::${var.bucket_name}/*"] },
    ]
  })
}

resource "minio_iam_user_policy_attachment" "this" {
  user_name   = minio_iam_user.this.id
  policy_name = minio_iam_policy.this.id
}

resource "minio_iam_service_account" "this" {
  target_user = minio_iam_user.this.name
}

output "bucket" {
  value = minio_s3_bucket.this.bucket
}

output "access_key_id" {
  value = minio_iam_service_account.this.access_key
}

output "secret_access_key" {
  value     = minio_iam_service_account.this.secret_key
  sensitive = true
}
