# The configuration the drift check plans; in a real repository this is your own.
terraform {
  required_providers {
    oceanbase = {
      source = "oceanbase/oceanbase"
    }
  }
}

# The read-only SQL user's password (TF_VAR_sql_password); null means the provider's password.
variable "sql_password" {
  type      = string
  sensitive = true
  default   = null
}

# A read-only user in the sys tenant (see the guide); null means root.
variable "sql_user" {
  type    = string
  default = null
}

# obshell's endpoint and password come from OCEANBASE_ENDPOINT and OCEANBASE_PASSWORD, the MySQL
# port of the sys tenant (sql_endpoint) from OCEANBASE_SQL_ENDPOINT: with it the plan also
# compares binding, piece_switch_interval and delete_policy, which obshell cannot report.
provider "oceanbase" {
  sql_user     = var.sql_user
  sql_password = var.sql_password
}

resource "oceanbase_backup_config" "this" {
  backup_base_uri         = "file:///data/backup"
  log_archive_concurrency = 4
  archive_lag_target      = "2m"
  binding                 = "optional"
  piece_switch_interval   = "1d"
  delete_policy = {
    recovery_window = "7d"
  }
}
