# Terraform 1.5 and later: import in configuration, then `terraform plan` shows what it adopts.
import {
  to = oceanbase_backup_config.this
  id = "1726000000"
}
