# The import id is the cluster id, as GET /api/v1/obcluster/info reports it (cluster_id).
terraform import oceanbase_backup_config.this 1726000000
