terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

variable "name" {
  type        = string
  description = "Name of the database instance."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,50}$", var.name))
    error_message = "Start with a letter; use lowercase letters, digits and dashes, at most 51 characters."
  }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "instance_class" {
  type        = string
  description = "Size of the server."
  default     = "db.t4g.micro"
  validation {
    condition     = contains(["db.t4g.micro", "db.t4g.small", "db.t4g.medium", "db.m7g.large"], var.instance_class)
    error_message = "Pick one of db.t4g.micro, db.t4g.small, db.t4g.medium or db.m7g.large."
  }
}

variable "allocated_storage" {
  type        = number
  description = "Storage in GB."
  default     = 20
  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 1000
    error_message = "Storage must be between 20 and 1000 GB."
  }
}

variable "backup_retention_days" {
  type    = number
  default = 7
  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "Keep backups for 1 to 35 days."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the database subnet group."
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups that may reach the database."
}

variable "team" {
  type = string
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { team = var.team, managed-by = "research-portal" }
  }
}

resource "random_password" "master" {
  length  = 32
  special = false
}

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_db_instance" "this" {
  identifier                 = var.name
  engine                     = "postgres"
  engine_version             = "17"
  instance_class             = var.instance_class
  allocated_storage          = var.allocated_storage
  max_allocated_storage      = var.allocated_storage * 2
  storage_encrypted          = true
  db_name                    = "research"
  username                   = "portal_admin"
  password                   = random_password.master.result
  db_subnet_group_name       = aws_db_subnet_group.this.name
  vpc_security_group_ids     = var.security_group_ids
  publicly_accessible        = false
  backup_retention_period    = var.backup_retention_days
  deletion_protection        = false
  skip_final_snapshot        = false
  final_snapshot_identifier  = "${var.name}-final"
  auto_minor_version_upgrade = true
  copy_tags_to_snapshot      = true
}

output "host" {
  value = aws_db_instance.this.address
}

output "port" {
  value = aws_db_instance.this.port
}

output "database" {
  value = aws_db_instance.this.db_name
}

output "user" {
  value = aws_db_instance.this.username
}

output "password" {
  value     = random_password.master.result
  sensitive = true
}
