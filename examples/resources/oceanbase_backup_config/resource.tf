# Backups to object storage, credentials write-only (Terraform 1.11 or later): they reach the
# provider at plan and apply and are stored nowhere, not in the state and not in a saved plan.
variable "oss_access_id" {
  type      = string
  ephemeral = true
}

variable "oss_access_key" {
  type      = string
  ephemeral = true
}

resource "oceanbase_backup_config" "oss" {
  backup_base_uri = "oss://backup-bucket/oceanbase?host=oss-cn-hangzhou.aliyuncs.com"
  storage_credentials_wo = {
    access_id  = var.oss_access_id
    access_key = var.oss_access_key
  }
  # Terraform cannot see a change of a write-only value: change this number whenever the
  # credentials change, and the provider sends them again.
  storage_credentials_wo_version = 1

  archive_lag_target = "2m"
}

# Backups to a file system mounted at the same path on every OBServer node.
resource "oceanbase_backup_config" "this" {
  backup_base_uri         = "file:///data/backup"
  log_archive_concurrency = 4
  ha_low_thread_score     = 10
  archive_lag_target      = "2m"
  binding                 = "optional"
  piece_switch_interval   = "1d"

  delete_policy = {
    policy          = "default"
    recovery_window = "7d"
  }

  # Reopen archive log on the tenants that were archiving when a change stops it (the default).
  restore_archive_log = true

  timeouts = {
    create = "70m"
    update = "70m"
    read   = "2m"
  }
}

# Terraform before 1.11 has no write-only attributes: use the sensitive form instead, which is
# stored (in clear text) in the state and in saved plans.
#
# resource "oceanbase_backup_config" "oss" {
#   backup_base_uri = "oss://backup-bucket/oceanbase?host=oss-cn-hangzhou.aliyuncs.com"
#   storage_credentials = {
#     access_id  = var.oss_access_id
#     access_key = var.oss_access_key
#   }
# }
