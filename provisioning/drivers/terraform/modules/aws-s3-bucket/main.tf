terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

variable "bucket_name" {
  type        = string
  description = "Name of the bucket: 3 to 63 lowercase letters, digits, dots and dashes."
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "Use 3 to 63 lowercase letters, digits, dots and dashes, starting and ending with a letter or digit."
  }
}

variable "region" {
  type        = string
  description = "AWS region."
  default     = "eu-west-1"
}

variable "versioning" {
  type        = bool
  description = "Keep old versions of overwritten and deleted objects."
  default     = true
}

variable "cold_after_days" {
  type        = number
  description = "Move objects to colder, cheaper storage after this many days (0: never)."
  default     = 90
  validation {
    condition     = var.cold_after_days >= 0 && var.cold_after_days <= 3650
    error_message = "Give a number of days between 0 and 3650."
  }
}

variable "team" {
  type        = string
  description = "Team that owns the bucket (a tag)."
}

variable "tags" {
  type        = map(string)
  description = "Extra tags."
  default     = {}
}

provider "aws" {
  region = var.region
  default_tags {
    tags = merge(var.tags, { team = var.team, managed-by = "research-portal" })
  }
}

resource "aws_s3_bucket" "this" {
  bucket = var.bucket_name
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = var.versioning ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count  = var.cold_after_days > 0 ? 1 : 0
  bucket = aws_s3_bucket.this.id
  rule {
    id     = "to-colder-storage"
    status = "Enabled"
    filter {}
    transition {
      days          = var.cold_after_days
      storage_class = "GLACIER_IR"
    }
    noncurrent_version_expiration {
      noncurrent_days = 365
    }
  }
}

output "bucket" {
  value = aws_s3_bucket.this.id
}

output "region" {
  value = var.region
}

output "arn" {
  value = aws_s3_bucket.this.arn
}
