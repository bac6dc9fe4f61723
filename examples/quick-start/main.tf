# The Quick start's main.tf: one cluster's backup configuration.
# The endpoint and password come from OCEANBASE_ENDPOINT and OCEANBASE_PASSWORD.
terraform {
  required_providers {
    oceanbase = { source = "oceanbase/oceanbase" }
  }
}

provider "oceanbase" {}

resource "oceanbase_backup_config" "this" {
  backup_base_uri         = "file:///data/backup"
  log_archive_concurrency = 4
  archive_lag_target      = "2m"
  delete_policy = {
    policy          = "default"
    recovery_window = "7d"
  }
}

output "cluster_id" {
  value = oceanbase_backup_config.this.id
}
