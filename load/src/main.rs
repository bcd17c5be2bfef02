//! diemcau-load: scenario load generator (issue 6). Work in progress.
fn main() {
    eprintln!("diemcau-load: not yet built");
    std::process::exit(2);
}
