//! `azmi completions SHELL`: a completion script on stdout.

use clap::CommandFactory;

use crate::args::Cli;

pub(crate) fn run(shell: clap_complete::Shell) {
    let mut stdout = std::io::stdout().lock();
    clap_complete::generate(shell, &mut Cli::command(), "azmi", &mut stdout);
}
