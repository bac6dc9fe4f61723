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

# Object storage instead: the URI carries no secret; the credentials are sensitive and separate.
#
# resource "oceanbase_backup_config" "oss" {
#   backup_base_uri = "oss://backup-bucket/oceanbase?host=oss-cn-hangzhou.aliyuncs.com"
#   storage_credentials = {
#     access_id  = var.oss_access_id
#     access_key = var.oss_access_key
#   }
# }
