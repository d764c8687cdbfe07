//! Rendering of `scanaudit repair`: what its plan rows hold. The layout, the summary line and
//! the JSON document are [`super::plan`]'s.

use std::path::Path;

use super::layout::{Cell, Para, Row};
use super::plan::{PlanRows, Words};
use crate::repair::{Action, ActionOutcome, Unfixable};
use crate::text::rel;

/// `repair`'s rows.
pub struct Repair;

impl PlanRows for Repair {
    type Action = Action;
    type Unfixable = Unfixable;
    type Result = ActionOutcome;
    const WORDS: Words = Words {
        verb: "repair",
        nothing: "nothing to do",
        cannot: "cannot be fixed here",
        results_key: "outcomes",
        action_columns: ["ACTION", "FILE"],
        planned_column: "WHY",
        unfixable_columns: &["CANNOT FIX", "WHY"],
    };

    fn action_name(action: &Action) -> String {
        serde_json::to_value(action.action).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
    }

    fn target(action: &Action) -> &Path {
        &action.target
    }

    fn reason(action: &Action) -> String {
        match &action.source {
            Some(source) => format!(
                "{} (from {})",
                action.reason,
                source.file_name().map_or_else(String::new, |n| n.to_string_lossy().into())
            ),
            None => action.reason.clone(),
        }
    }

    fn notes(action: &Action) -> &[String] {
        &action.notes
    }

    fn unfixable_path(unfixable: &Unfixable) -> &Path {
        &unfixable.path
    }

    fn unfixable_row(u: &Unfixable, scan_dir: &Path) -> Row {
        let mut text = vec![Para::Wrap(u.reason.clone())];
        text.extend(u.fix.as_ref().map(|fix| Para::Whole(format!("fix: {fix}"))));
        Row { cells: vec![Cell::new(rel(&u.path, scan_dir))], text }
    }
}
