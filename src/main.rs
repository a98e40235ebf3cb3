//! The `friend` binary: parse the command line and hand over to `friend::cli`.

fn main() -> std::process::ExitCode {
    friend::cli::main()
}
