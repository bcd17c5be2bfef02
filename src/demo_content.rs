//! What `diemcau demo` puts in its province meeting so a newcomer sees the
//! paperless side at once: an agenda, the programme as a PDF sealed with
//! the demo seal (the delegate view shows "Đã ký số bởi … — hợp lệ"), and a
//! draft motion. Seeded once: a meeting whose agenda has items is left as
//! the operator made it.

use bytes::Bytes;

use crate::api::AppState;
use crate::control::agenda::{Agendas, ItemDraft};
use crate::control::documents::{Classification, UploadMeta};
use crate::control::voting::{Electorate, MotionDraft, MotionMode, Voting};
use crate::store::Actor;

fn actor() -> Actor {
    Actor {
        id: "demo".into(),
        name: "diemcau demo".into(),
        address: None,
    }
}

const ITEMS: [(&str, &str, u32); 3] = [
    (
        "Khai mạc, thông qua chương trình hội nghị",
        "Văn phòng Tỉnh ủy",
        10,
    ),
    (
        "Báo cáo tình hình thực hiện nhiệm vụ chuyển đổi số năm 2026",
        "Ban Tuyên giáo và Dân vận",
        30,
    ),
    (
        "Thảo luận và biểu quyết Nghị quyết về chuyển đổi số năm 2027",
        "Đồng chí chủ trì",
        45,
    ),
];

/// Seed the demo meeting's agenda, its sealed programme and a motion.
pub async fn seed(state: &AppState, meeting: &str) -> anyhow::Result<()> {
    let actor = actor();
    let agendas = Agendas::new(state.store.clone());
    if !agendas.agenda(meeting).await?.items.is_empty() {
        return Ok(());
    }
    let mut first = None;
    for (title, presenter, minutes) in ITEMS {
        let item = agendas
            .create(
                &actor,
                meeting,
                &ItemDraft {
                    title: title.into(),
                    presenter: presenter.into(),
                    presenter_user_id: None,
                    planned_minutes: minutes,
                    notes: String::new(),
                },
            )
            .await?;
        first.get_or_insert(item.id);
    }
    let rows: Vec<Vec<String>> = ITEMS
        .iter()
        .enumerate()
        .map(|(i, (t, p, m))| {
            vec![
                format!("{}", i + 1),
                t.to_string(),
                p.to_string(),
                format!("{m} phút"),
            ]
        })
        .collect();
    let programme = crate::pdf::table::render(&crate::pdf::table::Table {
        title: "Chương trình hội nghị",
        lines: &["Hội nghị trực tuyến toàn tỉnh (trình diễn)".to_string()],
        header: &["STT", "Nội dung", "Trình bày", "Thời lượng"],
        widths: &[0.06, 0.56, 0.26, 0.12],
        rows: &rows,
        empty: "",
    })
    .map_err(anyhow::Error::msg)?;
    // Sealed like the minutes are: the reader sees who vouches for it.
    let (sealed, _) =
        crate::api::v1::minutes_seal::seal_pdf(state, programme, "Văn bản trình diễn")
            .await
            .map_err(anyhow::Error::msg)?;
    let len = sealed.len() as u64;
    state
        .documents
        .upload(
            &actor,
            meeting,
            UploadMeta {
                title: "Chương trình hội nghị (đã ký số)".into(),
                classification: Classification::Thuong,
                agenda_item_id: first,
                supersedes: None,
            },
            Some(len),
            futures_util::stream::iter([Ok::<Bytes, std::convert::Infallible>(Bytes::from(
                sealed,
            ))]),
        )
        .await?;
    Voting::new(state.store.clone())
        .create(
            &actor,
            meeting,
            &MotionDraft {
                title: "Thông qua Nghị quyết về chuyển đổi số năm 2027".into(),
                description: "Biểu quyết công khai của các điểm cầu theo số đại biểu có mặt."
                    .into(),
                options: None,
                mode: MotionMode::Open,
                electorate: Electorate::Rooms,
            },
        )
        .await?;
    Ok(())
}

/// Start the demo meeting's internal live stream (automatic layout), so a
/// newcomer finds the composite at `/live/<meeting>` as soon as two rooms
/// join. Audited like an operator's start.
pub async fn start_stream(state: &AppState, meeting: &str) -> anyhow::Result<()> {
    let m = crate::control::meetings::Meetings::new(state.store.clone())
        .get(meeting)
        .await?;
    let room = state.conference.live_room(&m).await?;
    state
        .conference
        .act_by(
            actor(),
            &room,
            "live_stream_start",
            serde_json::json!({"layout": null, "demo": true}),
            |live, _| Ok(((), live.start_stream(None))),
        )
        .await?;
    Ok(())
}
