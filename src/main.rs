fn main() {
    std::process::exit(svcmgr::cli::main(std::env::args_os().collect()));
}
