//! Bodies (cơ quan): a Ban Chấp hành or Ban Thường vụ of one term, with its
//! members over dated spans. A BCH or BTV meeting names its body and takes
//! the members it has on the meeting's date — a member elected mid-term is
//! in the meetings after, not those before; one who left keeps their rows.
//!
//! Owns the `bodies` and `body_members` tables; every change is audited.
//! Members are imported from CSV like the org tree: all rows or none, each
//! error naming its row and column.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use time::Date;

use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, date, new_id, now_ms};

/// Longest body name and term, in characters.
pub const NAME_MAX_CHARS: usize = 200;
/// The most member rows one CSV import carries (a BCH has ~70 members;
/// a file of thousands is a mistake).
pub const MAX_IMPORT_ROWS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BodyKind {
    /// Ban Chấp hành.
    Bch,
    /// Ban Thường vụ.
    Btv,
    Other,
}

impl BodyKind {
    fn as_str(self) -> &'static str {
        match self {
            BodyKind::Bch => "bch",
            BodyKind::Btv => "btv",
            BodyKind::Other => "other",
        }
    }

    fn parse(s: &str) -> Result<BodyKind, String> {
        match s {
            "bch" => Ok(BodyKind::Bch),
            "btv" => Ok(BodyKind::Btv),
            "other" => Ok(BodyKind::Other),
            o => Err(format!("unknown body kind {o:?}")),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BodyDraft {
    /// "Ban Chấp hành Đảng bộ tỉnh", 1 to 200 characters.
    pub name: String,
    pub kind: BodyKind,
    /// "khóa XV, nhiệm kỳ 2025–2030", 1 to 200 characters.
    pub term: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Body {
    pub id: String,
    pub name: String,
    pub kind: BodyKind,
    pub term: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One span of one person's membership.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BodyMember {
    #[serde(default)]
    pub id: String,
    pub user_id: String,
    /// "Bí thư", "Phó Bí thư", "Ủy viên", … (1 to 200 characters).
    pub position: String,
    /// Votes in the body's meetings.
    pub voting: bool,
    #[schemars(with = "String")]
    pub valid_from: Date,
    /// Exclusive; none while still a member.
    #[schemars(with = "Option<String>")]
    pub valid_to: Option<Date>,
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no body {0:?}")]
    Unknown(String),
    #[error("no member {0:?} in this body")]
    UnknownMember(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("row {row}, column {column}: {message}")]
    Import {
        row: usize,
        column: String,
        message: String,
    },
}

fn invalid<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, BodyError> {
    Err(BodyError::Invalid {
        field: field.into(),
        message: message.into(),
    })
}

fn check_text(field: &str, v: &str) -> Result<String, BodyError> {
    let v = v.trim();
    let n = v.chars().count();
    if n == 0 || n > NAME_MAX_CHARS {
        return invalid(
            field,
            format!("1 to {NAME_MAX_CHARS} characters (this has {n})"),
        );
    }
    Ok(v.to_string())
}

fn target(id: &str) -> String {
    format!("body:{id}")
}

/// Bodies over a store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Bodies {
    store: Store,
}

impl Bodies {
    pub fn new(store: Store) -> Bodies {
        Bodies { store }
    }

    pub async fn create(&self, actor: &Actor, d: BodyDraft) -> Result<Body, BodyError> {
        let name = check_text("name", &d.name)?;
        let term = check_text("term", &d.term)?;
        let id = new_id("bod_");
        let now = now_ms();
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "INSERT INTO bodies (id, name, kind, term, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(&name)
        .bind(d.kind.as_str())
        .bind(&term)
        .bind(now)
        .execute(&mut *tx)
        .await
        .ctx("creating a body")?;
        let details = serde_json::json!({"name": name, "kind": d.kind, "term": term});
        audit::append(&mut tx, actor, "body.create", &target(&id), &details).await?;
        tx.commit().await.ctx("creating a body")?;
        self.get(&id).await
    }

    pub async fn list(&self) -> Result<Vec<Body>, BodyError> {
        let rows = sqlx::query(
            "SELECT id, name, kind, term, created_at, updated_at FROM bodies ORDER BY name, term",
        )
        .fetch_all(self.store.pool())
        .await
        .ctx("listing bodies")?;
        rows.iter().map(body_from_row).collect()
    }

    pub async fn get(&self, id: &str) -> Result<Body, BodyError> {
        let row = sqlx::query(
            "SELECT id, name, kind, term, created_at, updated_at FROM bodies WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await
        .ctx("reading a body")?
        .ok_or_else(|| BodyError::Unknown(id.to_string()))?;
        body_from_row(&row)
    }

    /// Every membership span of the body, or only those valid on `on`.
    pub async fn members(&self, id: &str, on: Option<Date>) -> Result<Vec<BodyMember>, BodyError> {
        self.get(id).await?;
        const DOING: &str = "reading a body's members";
        let rows = sqlx::query(
            "SELECT id, user_id, position, voting, valid_from, valid_to FROM body_members
             WHERE body_id = $1 ORDER BY valid_from, user_id",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await
        .ctx(DOING)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let voting: i64 = r.try_get(3).ctx(DOING)?;
            let from: String = r.try_get(4).ctx(DOING)?;
            let to: Option<String> = r.try_get(5).ctx(DOING)?;
            let m = BodyMember {
                id: r.try_get(0).ctx(DOING)?,
                user_id: r.try_get(1).ctx(DOING)?,
                position: r.try_get(2).ctx(DOING)?,
                voting: voting != 0,
                valid_from: date::parse(&from).map_err(crate::control::org::decode_err(DOING))?,
                valid_to: to
                    .map(|t| date::parse(&t).map_err(crate::control::org::decode_err(DOING)))
                    .transpose()?,
            };
            if on.is_none_or(|d| m.valid_from <= d && m.valid_to.is_none_or(|t| t > d)) {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Add membership spans, all or none.
    pub async fn add_members(
        &self,
        actor: &Actor,
        body: &str,
        members: Vec<BodyMember>,
    ) -> Result<Vec<BodyMember>, BodyError> {
        self.get(body).await?;
        let mut tx = self.store.begin_write().await?;
        let mut added = Vec::with_capacity(members.len());
        for (i, mut m) in members.into_iter().enumerate() {
            let field = |f: &str| format!("members[{i}].{f}");
            m.position = check_text(&field("position"), &m.position)?;
            if let Some(to) = m.valid_to
                && to <= m.valid_from
            {
                return invalid(field("valid_to"), "ends on or before it starts");
            }
            let user: Option<Option<i64>> =
                sqlx::query_scalar("SELECT disabled_at FROM users WHERE id = $1")
                    .bind(&m.user_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("checking a body member")?;
            match user {
                None => return invalid(field("user_id"), format!("no user {:?}", m.user_id)),
                Some(Some(_)) => {
                    return invalid(
                        field("user_id"),
                        format!("user {:?} is disabled", m.user_id),
                    );
                }
                Some(None) => {}
            }
            m.id = new_id("bm_");
            sqlx::query(
                "INSERT INTO body_members (id, body_id, user_id, position, voting, valid_from, valid_to)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&m.id)
            .bind(body)
            .bind(&m.user_id)
            .bind(&m.position)
            .bind(i64::from(m.voting))
            .bind(date::to_text(m.valid_from))
            .bind(m.valid_to.map(date::to_text))
            .execute(&mut *tx)
            .await
            .ctx("adding a body member")?;
            added.push(m);
        }
        let details = serde_json::to_value(&added).unwrap_or_default();
        audit::append(&mut tx, actor, "body.members_add", &target(body), &details).await?;
        tx.commit().await.ctx("adding body members")?;
        Ok(added)
    }

    /// End a membership span on `on` (exclusive): the person is not a
    /// member of meetings on or after that date.
    pub async fn end_member(
        &self,
        actor: &Actor,
        body: &str,
        member: &str,
        on: Date,
    ) -> Result<(), BodyError> {
        let mut tx = self.store.begin_write().await?;
        let from: Option<String> = sqlx::query_scalar(
            "SELECT valid_from FROM body_members WHERE id = $1 AND body_id = $2",
        )
        .bind(member)
        .bind(body)
        .fetch_optional(&mut *tx)
        .await
        .ctx("ending a membership")?;
        let from = from.ok_or_else(|| BodyError::UnknownMember(member.to_string()))?;
        if date::to_text(on) <= from {
            return invalid("valid_to", format!("{on} is not after the start {from}"));
        }
        sqlx::query("UPDATE body_members SET valid_to = $1 WHERE id = $2")
            .bind(date::to_text(on))
            .bind(member)
            .execute(&mut *tx)
            .await
            .ctx("ending a membership")?;
        let details = serde_json::json!({"member": member, "valid_to": date::to_text(on)});
        audit::append(&mut tx, actor, "body.member_end", &target(body), &details).await?;
        tx.commit().await.ctx("ending a membership")?;
        Ok(())
    }

    /// Import members from CSV with the header
    /// `login,position,voting,valid_from,valid_to` (`voting`: 1/0, có/không,
    /// yes/no; `valid_to` may be empty): all rows or none.
    pub async fn import_csv(
        &self,
        actor: &Actor,
        body: &str,
        text: &str,
    ) -> Result<Vec<BodyMember>, BodyError> {
        let mut members = Vec::new();
        for (row, r) in parse_member_csv(text)? {
            let user_id: Option<String> =
                sqlx::query_scalar("SELECT id FROM users WHERE login = $1")
                    .bind(&r.login)
                    .fetch_optional(self.store.pool())
                    .await
                    .ctx("importing body members")?;
            let user_id = user_id
                .ok_or_else(|| import_err(row, "login", format!("no user {:?}", r.login)))?;
            members.push(BodyMember {
                id: String::new(),
                user_id,
                position: r.position,
                voting: r.voting,
                valid_from: r.valid_from,
                valid_to: r.valid_to,
            });
        }
        self.add_members(actor, body, members)
            .await
            .map_err(|e| match e {
                BodyError::Invalid { field, message } => {
                    // members[i].x → row i + 2.
                    let row = field
                        .strip_prefix("members[")
                        .and_then(|r| r.split(']').next())
                        .and_then(|n| n.parse::<usize>().ok())
                        .map_or(0, |n| n + 2);
                    let column = field.rsplit('.').next().unwrap_or("").to_string();
                    import_err(row, &column, message)
                }
                other => other,
            })
    }
}

/// One row of a members CSV, before its login is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub login: String,
    pub position: String,
    pub voting: bool,
    pub valid_from: Date,
    pub valid_to: Option<Date>,
}

/// Parse a members CSV (pure: no store), each row with its 1-based line
/// number; the first error names its row and column. Reachable from the
/// network through the import route, so it has a fuzz target.
pub fn parse_member_csv(text: &str) -> Result<Vec<(usize, MemberRow)>, BodyError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| import_err(1, "", e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| import_err(1, name, format!("missing column {name:?}")))
    };
    let (c_login, c_pos, c_vote, c_from, c_to) = (
        col("login")?,
        col("position")?,
        col("voting")?,
        col("valid_from")?,
        col("valid_to")?,
    );
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let row = i + 2;
        if rows.len() >= MAX_IMPORT_ROWS {
            return Err(import_err(
                row,
                "",
                format!("at most {MAX_IMPORT_ROWS} rows"),
            ));
        }
        let rec = rec.map_err(|e| import_err(row, "", e.to_string()))?;
        let get = |c: usize| rec.get(c).unwrap_or("").to_string();
        let voting = match get(c_vote).to_lowercase().as_str() {
            "1" | "có" | "yes" | "true" => true,
            "0" | "không" | "no" | "false" => false,
            o => return Err(import_err(row, "voting", format!("{o:?} is not 1/0"))),
        };
        let valid_from = date::parse(&get(c_from)).map_err(|e| import_err(row, "valid_from", e))?;
        let valid_to = match get(c_to).as_str() {
            "" => None,
            t => Some(date::parse(t).map_err(|e| import_err(row, "valid_to", e))?),
        };
        rows.push((
            row,
            MemberRow {
                login: get(c_login),
                position: get(c_pos),
                voting,
                valid_from,
                valid_to,
            },
        ));
    }
    Ok(rows)
}

fn import_err(row: usize, column: &str, message: String) -> BodyError {
    BodyError::Import {
        row,
        column: column.to_string(),
        message,
    }
}

fn body_from_row(r: &sqlx::any::AnyRow) -> Result<Body, BodyError> {
    const DOING: &str = "reading a body";
    let kind: String = r.try_get(2).ctx(DOING)?;
    Ok(Body {
        id: r.try_get(0).ctx(DOING)?,
        name: r.try_get(1).ctx(DOING)?,
        kind: BodyKind::parse(&kind).map_err(crate::control::org::decode_err(DOING))?,
        term: r.try_get(3).ctx(DOING)?,
        created_at_ms: r.try_get(4).ctx(DOING)?,
        updated_at_ms: r.try_get(5).ctx(DOING)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_members_csv_row_with_a_bad_cell_is_named_by_row_and_column() {
        let ok = "login,position,voting,valid_from,valid_to\nbt,Bí thư,có,2025-10-01,\n";
        let rows = parse_member_csv(ok).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, 2);
        assert!(rows[0].1.voting && rows[0].1.valid_to.is_none());
        let bad = "login,position,voting,valid_from,valid_to\nbt,Bí thư,1,2025-10-01,\nuv,Ủy viên,maybe,2025-10-01,\n";
        match parse_member_csv(bad) {
            Err(BodyError::Import { row, column, .. }) => {
                assert_eq!((row, column.as_str()), (3, "voting"))
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_member_csv("login,position\n").is_err());
    }
}
