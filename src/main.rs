fn main() {
    std::process::exit(grove::cli::main());
}
