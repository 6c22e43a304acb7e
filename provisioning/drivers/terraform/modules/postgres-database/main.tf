terraform {
  required_version = ">= 1.5"
  required_providers {
    postgresql = {
      source  = "cyrilgdn/postgresql"
      version = "~> 1.25"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

variable "name" {
  type        = string
  description = "Name of the database and its role."
  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{1,62}$", var.name))
    error_message = "Start with a letter; use lowercase letters, digits and underscores, at most 63 characters."
  }
}

variable "connection_limit" {
  type    = number
  default = 20
  validation {
    condition     = var.connection_limit >= 1 && var.connection_limit <= 100
    error_message = "Allow between 1 and 100 connections."
  }
}

variable "server_host" {
  type        = string
  description = "Host name scientists connect to."
}

resource "random_password" "this" {
  length  = 32
  special = false
}

resource "postgresql_role" "this" {
  name             = var.name
  login            = true
  password         = random_password.this.result
  connection_limit = var.connection_limit
}

resource "postgresql_database" "this" {
  name              = var.name
  owner             = postgresql_role.this.name
  connection_limit  = var.connection_limit
  allow_connections = true
}

resource "postgresql_grant" "revoke_public" {
  database    = postgresql_database.this.name
  role        = "public"
  object_type = "database"
  privileges  = []
}

output "host" {
  value = var.server_host
}

output "database" {
  value = postgresql_database.this.name
}

output "user" {
  value = postgresql_role.this.name
}

output "password" {
  value     = random_password.this.result
  sensitive = true
}
