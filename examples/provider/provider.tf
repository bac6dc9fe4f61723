terraform {
  required_providers {
    oceanbase = {
      source = "oceanbase/oceanbase"
    }
  }
}

variable "obshell_endpoint" {
  description = "obshell's address on one node of the cluster, such as http://10.10.10.1:2886."
  type        = string
  default     = null
}

# Ephemeral (Terraform 1.10 or later): the password is in no plan file and no state.
variable "root_password" {
  description = "The root@sys password obshell authenticates requests with."
  type        = string
  sensitive   = true
  ephemeral   = true
  default     = null
}

# With both variables left null, the provider reads OCEANBASE_ENDPOINT and OCEANBASE_PASSWORD.
provider "oceanbase" {
  endpoint = var.obshell_endpoint
  password = var.root_password
}
