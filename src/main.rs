//! The `sharefs` binary: parse the command line, set up logging, run.

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = sharefs::cli::Cli::parse();
    init_logging(&cli);
    std::process::exit(sharefs::run(cli));
}

fn init_logging(cli: &sharefs::cli::Cli) {
    let default = match cli.verbose {
        0 => "warn,sharefs::conflict=info",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let log_file = match &cli.command {
        sharefs::cli::Command::Mount(args) => args.log_file.as_ref(),
        _ => None,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match log_file.map(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
    }) {
        Some(Ok(file)) => builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init(),
        Some(Err(e)) => {
            eprintln!("sharefs: cannot open log file: {e}");
            std::process::exit(2);
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
}
