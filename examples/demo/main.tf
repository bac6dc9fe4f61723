# The demo configuration that `make demo` applies against obshell-sim.
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
  binding                 = "optional"
  ha_low_thread_score     = 10
  piece_switch_interval   = "1d"
  archive_lag_target      = "2m"
  delete_policy = {
    policy          = "default"
    recovery_window = "7d"
  }
}

output "cluster_id" {
  value = oceanbase_backup_config.this.id
}

# Each tenant's archive-log status (OFF when it is not archiving). Unlike the whole tenants map,
# it stays short; and as an output of tenants it makes a change seen only there (a tenant whose
# archive log stopped) show in terraform plan -detailed-exitcode.
output "archive_log" {
  value = { for name, tenant in oceanbase_backup_config.this.tenants : name => tenant.archive_log }
}
