//! The `terraform-provider-oceanbase` plugin binary. Terraform starts it; it is not run by hand.
//! All it does is build the provider and hand it to the plugin server.

use std::process::ExitCode;

fn main() -> ExitCode {
    terraform_provider_oceanbase::server::run(
        terraform_provider_oceanbase::provider::Provider::new(env!("CARGO_PKG_VERSION")),
    )
}
