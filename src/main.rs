//! The `terraform-provider-oceanbase` plugin binary. Terraform starts it; it is not run by hand.

fn main() {
    eprintln!("This binary is a plugin. These are not meant to be executed directly.");
    std::process::exit(1);
}
