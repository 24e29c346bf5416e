//! The `sharefs` binary: parse the command line, set up logging, run.

use clap::Parser;
use sharefs::cli::{Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    init_logging(&cli);
    std::process::exit(sharefs::run(cli));
}

fn init_logging(cli: &Cli) {
    let default = match cli.verbose {
        // `sharefs run` reports conflicts itself at the end.
        0 if matches!(cli.command, Command::Run(_)) => "warn",
        0 => "warn,sharefs::conflict=info",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let (log_file, format) = match &cli.command {
        Command::Mount(args) => (args.log_file.as_ref(), args.log_format),
        _ => (None, LogFormat::Text),
    };
    let writer: Box<dyn Fn() -> Box<dyn std::io::Write> + Send + Sync> = match log_file {
        Some(path) => {
            let file = match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                Ok(f) => std::sync::Arc::new(f),
                Err(e) => {
                    eprintln!("sharefs: cannot open log file {}: {e}", path.display());
                    std::process::exit(2);
                }
            };
            Box::new(move || Box::new(file.clone()) as Box<dyn std::io::Write>)
        }
        None => Box::new(|| Box::new(std::io::stderr()) as Box<dyn std::io::Write>),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(log_file.is_none())
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
