# The live backup settings of every user tenant, without managing them.
data "oceanbase_backup_config" "live" {}

output "cluster_id" {
  value = data.oceanbase_backup_config.live.id
}

# Tenants whose archive log is not running (null before obshell 4.3.2).
output "tenants_not_archiving" {
  value = [
    for name, tenant in data.oceanbase_backup_config.live.tenants :
    name if tenant.archive_log_status != null && tenant.archive_log_status != "DOING"
  ]
}

# Tenants whose archive destination differs from the expected base.
output "tenants_elsewhere" {
  value = [
    for name, tenant in data.oceanbase_backup_config.live.tenants :
    name if tenant.archive_dest != null && !startswith(coalesce(tenant.archive_dest, "-"), "file:///data/backup/")
  ]
}
