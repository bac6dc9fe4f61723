//! The `terraform-provider-oceanbase` plugin binary. Terraform starts it; it is not run by hand,
//! except as `terraform-provider-oceanbase --version`, which prints the version and exits.
//! Otherwise all it does is build the provider and hand it to the plugin server.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|arg| arg == "--version") {
        // Run by hand: no handshake follows, so stdout is free for the answer.
        #[allow(clippy::print_stdout)]
        {
            println!("terraform-provider-oceanbase {}", env!("CARGO_PKG_VERSION"));
        }
        return ExitCode::SUCCESS;
    }
    terraform_provider_oceanbase::server::run(
        terraform_provider_oceanbase::provider::Provider::new(env!("CARGO_PKG_VERSION")),
    )
}
