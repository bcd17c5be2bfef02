//! Import and export of units as CSV (a province's list arrives as a
//! spreadsheet) and JSON, with the columns
//! `code,name,kind,parent_code,valid_from`.
//!
//! Import is all or nothing: every row is checked and written in one
//! transaction, and the first bad row is named (CSV rows count the header as
//! row 1, as a spreadsheet shows them; JSON items count from 1). Text is
//! taken byte for byte, so Vietnamese names round-trip exactly.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::change::create_in;
use super::snapshot::Snapshot;
use super::{NewUnit, OrgError, OrgKind, OrgTree, UnitAt};
use crate::store::{Actor, SqlxResultExt, StoreError, audit, date};
use time::Date;

/// The columns, in order.
pub const COLUMNS: [&str; 5] = ["code", "name", "kind", "parent_code", "valid_from"];

/// One unit as a row: what import reads and export writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRecord {
    pub code: String,
    pub name: String,
    pub kind: String,
    /// Empty (CSV) or null (JSON) for a top-level unit.
    pub parent_code: Option<String>,
    /// `YYYY-MM-DD`: the day the unit begins.
    pub valid_from: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{place} {index}, column `{column}`: {message}")]
    Row {
        /// "row" (CSV) or "item" (JSON).
        place: &'static str,
        index: usize,
        column: &'static str,
        message: String,
    },
    #[error("{0}")]
    Format(String),
}

/// A parsed record and where it came from.
struct Located {
    place: &'static str,
    index: usize,
    record: UnitRecord,
}

impl Located {
    fn err(&self, column: &'static str, message: impl Into<String>) -> ImportError {
        ImportError::Row {
            place: self.place,
            index: self.index,
            column,
            message: message.into(),
        }
    }
}

/// Read an import file without storing it: the records it holds, or why
/// it is refused. What the network reaches before any store access (the
/// `org_import` fuzz target's entry).
pub fn parse_import(text: &str, csv: bool) -> Result<Vec<UnitRecord>, ImportError> {
    let rows = if csv {
        parse_csv(text)?
    } else {
        parse_json(text)?
    };
    Ok(rows.into_iter().map(|r| r.record).collect())
}

fn parse_csv(text: &str) -> Result<Vec<Located>, ImportError> {
    // Spreadsheets often save UTF-8 with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ImportError::Format(format!("cannot read the CSV header row: {e}")))?
        .clone();
    let mut at = [0usize; 5];
    for (slot, name) in at.iter_mut().zip(COLUMNS) {
        *slot = headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                ImportError::Format(format!(
                    "the header row has no `{name}` column; expected {}",
                    COLUMNS.join(",")
                ))
            })?;
    }
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let index = i + 2;
        let rec = rec.map_err(|e| ImportError::Row {
            place: "row",
            index,
            column: "code",
            message: format!("unreadable CSV (save the sheet as CSV UTF-8): {e}"),
        })?;
        let field = |k: usize| rec.get(at[k]).unwrap_or("").to_string();
        let parent = field(3);
        out.push(Located {
            place: "row",
            index,
            record: UnitRecord {
                code: field(0),
                name: field(1),
                kind: field(2),
                parent_code: (!parent.is_empty()).then_some(parent),
                valid_from: field(4),
            },
        });
    }
    Ok(out)
}

fn parse_json(text: &str) -> Result<Vec<Located>, ImportError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ImportError::Format(format!("not valid JSON: {e}")))?;
    let items = value
        .as_array()
        .ok_or_else(|| ImportError::Format("expected a JSON array of units".into()))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let index = i + 1;
        let err = |column, message: &str| ImportError::Row {
            place: "item",
            index,
            column,
            message: message.to_string(),
        };
        let obj = item
            .as_object()
            .ok_or_else(|| err("code", "expected an object"))?;
        let text = |k: &'static str| -> Result<Option<String>, ImportError> {
            match obj.get(k) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(err(k, "expected a string")),
            }
        };
        out.push(Located {
            place: "item",
            index,
            record: UnitRecord {
                code: text("code")?.unwrap_or_default(),
                name: text("name")?.unwrap_or_default(),
                kind: text("kind")?.unwrap_or_default(),
                parent_code: text("parent_code")?.filter(|p| !p.is_empty()),
                valid_from: text("valid_from")?.unwrap_or_default(),
            },
        });
    }
    Ok(out)
}

/// Order rows so each parent in the file comes before its children.
fn parents_first(rows: &[Located]) -> Result<Vec<usize>, ImportError> {
    let mut by_code: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(first) = by_code.insert(r.record.code.as_str(), i) {
            return Err(r.err(
                "code",
                format!(
                    "code {:?} already appears at {} {}",
                    r.record.code, rows[first].place, rows[first].index
                ),
            ));
        }
    }
    let mut order = Vec::with_capacity(rows.len());
    let mut placed = HashSet::new();
    for start in 0..rows.len() {
        let mut chain = Vec::new();
        let mut cur = Some(start);
        while let Some(i) = cur {
            if placed.contains(&i) {
                break;
            }
            if chain.contains(&i) {
                return Err(rows[i].err("parent_code", "the parent codes in the file form a cycle"));
            }
            chain.push(i);
            cur = rows[i]
                .record
                .parent_code
                .as_deref()
                .and_then(|p| by_code.get(p).copied());
        }
        for i in chain.into_iter().rev() {
            placed.insert(i);
            order.push(i);
        }
    }
    Ok(order)
}

/// Which column an org rule's refusal is about.
fn column_of(e: &OrgError) -> &'static str {
    match e {
        OrgError::DuplicateCode(_) => "code",
        OrgError::Invalid { field, .. } => field,
        OrgError::BeforeCreation { .. } | OrgError::Ended { .. } => "valid_from",
        _ => "parent_code",
    }
}

impl OrgTree {
    /// Import a CSV sheet (all rows or none).
    pub async fn import_csv(&self, actor: &Actor, text: &str) -> Result<Vec<UnitAt>, ImportError> {
        self.import(actor, parse_csv(text)?, "csv").await
    }

    /// Import a JSON array of records (all or none).
    pub async fn import_json(&self, actor: &Actor, text: &str) -> Result<Vec<UnitAt>, ImportError> {
        self.import(actor, parse_json(text)?, "json").await
    }

    async fn import(
        &self,
        actor: &Actor,
        rows: Vec<Located>,
        format: &str,
    ) -> Result<Vec<UnitAt>, ImportError> {
        if rows.is_empty() {
            return Err(ImportError::Format("the file lists no units".into()));
        }
        let mut checked: Vec<(OrgKind, Date)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind = r
                .record
                .kind
                .parse()
                .map_err(|m: String| r.err("kind", m))?;
            let on = date::parse(&r.record.valid_from).map_err(|m| r.err("valid_from", m))?;
            checked.push((kind, on));
        }
        let order = parents_first(&rows)?;
        let mut tx = self.store.begin_write().await?;
        let mut snap = Snapshot::load(&mut tx).await?;
        let mut created = Vec::with_capacity(rows.len());
        for i in order {
            let r = &rows[i];
            let (kind, on) = checked[i];
            let parent_id = match &r.record.parent_code {
                None => None,
                Some(p) => Some(snap.by_code.get(p).cloned().ok_or_else(|| {
                    r.err(
                        "parent_code",
                        format!("no unit has code {p:?}, in the file or already stored"),
                    )
                })?),
            };
            let new = NewUnit {
                code: r.record.code.clone(),
                name: r.record.name.clone(),
                kind,
                parent_id,
            };
            match create_in(&mut tx, &mut snap, &new, on).await {
                Ok(u) => created.push(u.code),
                Err(OrgError::Store(e)) => return Err(e.into()),
                Err(e) => return Err(r.err(column_of(&e), e.to_string())),
            }
        }
        created.sort();
        let details = json!({"format": format, "count": created.len(), "codes": created});
        audit::append(&mut tx, actor, "org.import", "org_tree", &details).await?;
        tx.commit().await.ctx("importing org units")?;
        let wanted: HashSet<&str> = created.iter().map(String::as_str).collect();
        // Report each imported unit as of its own first day (one read per date).
        let mut trees: HashMap<Date, Vec<UnitAt>> = HashMap::new();
        let mut out = Vec::new();
        for (r, (_, on)) in rows.iter().zip(&checked) {
            if !wanted.contains(r.record.code.as_str()) {
                continue;
            }
            if !trees.contains_key(on) {
                let tree = self.tree_at(*on).await.map_err(|e| match e {
                    OrgError::Store(s) => ImportError::Store(s),
                    other => ImportError::Format(other.to_string()),
                })?;
                trees.insert(*on, tree);
            }
            out.extend(
                trees[on]
                    .iter()
                    .filter(|u| u.code == r.record.code)
                    .cloned(),
            );
        }
        Ok(out)
    }

    /// The units of `on` as records, parents before children and siblings
    /// by code (a spreadsheet that reads as a tree). `valid_from` is each
    /// unit's first day; names and parents are those of `on`.
    pub async fn export_records(&self, on: Date) -> Result<Vec<UnitRecord>, OrgError> {
        let tree = self.tree_at(on).await?;
        let ids: HashSet<&str> = tree.iter().map(|u| u.id.as_str()).collect();
        let mut children: HashMap<Option<&str>, Vec<&UnitAt>> = HashMap::new();
        for u in &tree {
            // A parent outside the tree of `on` cannot happen for valid data;
            // list such a unit at the top rather than lose it.
            let p = u.parent_id.as_deref().filter(|p| ids.contains(p));
            children.entry(p).or_default().push(u);
        }
        let mut out = Vec::with_capacity(tree.len());
        let mut stack: Vec<&UnitAt> = children.get(&None).cloned().unwrap_or_default();
        stack.sort_by(|a, b| b.code.cmp(&a.code));
        while let Some(u) = stack.pop() {
            out.push(UnitRecord {
                code: u.code.clone(),
                name: u.name.clone(),
                kind: u.kind.as_str().to_string(),
                parent_code: u.parent_code.clone(),
                valid_from: date::to_text(u.created_on),
            });
            let mut kids = children
                .get(&Some(u.id.as_str()))
                .cloned()
                .unwrap_or_default();
            kids.sort_by(|a, b| b.code.cmp(&a.code));
            stack.extend(kids);
        }
        Ok(out)
    }

    pub async fn export_csv(&self, on: Date) -> Result<String, OrgError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let bad = |e: csv::Error| StoreError::Invalid {
            what: "CSV export".into(),
            message: e.to_string(),
        };
        w.write_record(COLUMNS).map_err(bad)?;
        for r in self.export_records(on).await? {
            w.write_record([
                r.code.as_str(),
                &r.name,
                &r.kind,
                r.parent_code.as_deref().unwrap_or(""),
                &r.valid_from,
            ])
            .map_err(bad)?;
        }
        let bytes = w.into_inner().map_err(|e| bad(e.into_error().into()))?;
        // Every field came from a `String`, so the output is UTF-8.
        Ok(String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8"))
    }

    pub async fn export_json(&self, on: Date) -> Result<String, OrgError> {
        let records = self.export_records(on).await?;
        Ok(serde_json::to_string_pretty(&records).expect("records serialise"))
    }
}
