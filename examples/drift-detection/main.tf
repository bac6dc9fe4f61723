# The configuration the drift check plans; in a real repository this is your own.
terraform {
  required_providers {
    oceanbase = {
      source = "oceanbase/oceanbase"
    }
  }
}

# The endpoint and password come from OCEANBASE_ENDPOINT and OCEANBASE_PASSWORD.
provider "oceanbase" {}

resource "oceanbase_backup_config" "this" {
  backup_base_uri         = "file:///data/backup"
  log_archive_concurrency = 4
  archive_lag_target      = "2m"
}
