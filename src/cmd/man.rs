//! `scanaudit man [VERB]`: the man pages, rendered by clap_mangen from the clap definitions
//! themselves, so that every option is on its verb's page: scanaudit(1), which lists the verbs
//! as scanaudit-VERB(1), and one page per verb, which `scanaudit man VERB` prints.

use std::io;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::config::UsageError;
use crate::exit_codes::ExitCode;

/// The command tree as the pages describe it: built (so that the global options are on every
/// verb and each verb is named `scanaudit-VERB`), without clap's `help` verb, which has no page.
fn pages() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

/// The names `scanaudit man` takes: every verb.
pub fn verbs() -> Vec<String> {
    pages().get_subcommands().map(|verb| verb.get_name().to_string()).collect()
}

/// The roff source of scanaudit(1) (`None`) or of one verb's page.
pub fn render(verb: Option<&str>, out: &mut dyn io::Write) -> Result<io::Result<()>, UsageError> {
    let pages = pages();
    let page = match verb {
        None => pages,
        Some(name) => pages
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| UsageError::NoManPage { verb: name.to_string(), verbs: verbs().join(", ") })?,
    };
    Ok(clap_mangen::Man::new(page).render(out))
}

pub fn print(verb: Option<&str>) -> Result<ExitCode, UsageError> {
    Ok(super::written(render(verb, &mut io::stdout().lock())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verb_has_a_page_and_the_main_page_names_only_those() {
        let mut main = Vec::new();
        render(None, &mut main).unwrap().unwrap();
        let main = String::from_utf8(main).unwrap();
        for verb in verbs() {
            let mut page = Vec::new();
            render(Some(&verb), &mut page).unwrap().unwrap();
            let page = String::from_utf8(page).unwrap();
            assert!(page.contains(&format!("scanaudit\\-{verb}")), "{verb}: {page}");
            assert!(main.contains(&format!("scanaudit\\-{verb}(1)")), "{verb}");
        }
        assert!(!main.contains("scanaudit\\-help"), "no page for clap's help verb");
        assert!(matches!(render(Some("chek"), &mut Vec::new()), Err(UsageError::NoManPage { .. })));
    }
}
