//! The presenter layout's page: when a meeting's page-sync presentation
//! changes — or its composite is laid out as presenter — the page is read
//! from the documents store, drawn (`compose::page`, off the async
//! threads, one at a time) and handed to the composer. A page the renderer
//! cannot draw leaves the tile saying there is no presentation; the rooms'
//! page-sync is not affected either way.

use futures_util::StreamExt;
use tokio::sync::Semaphore;

use crate::api::AppState;
use crate::control::agenda::{Agendas, Presentation};

/// One page drawn at a time: a page flip is rare, and a page the young
/// renderer is slow on must not take both cores from the media.
static RENDERING: Semaphore = Semaphore::const_new(1);

/// Bring `meeting`'s composite page up to date with its presentation, in
/// the background — also while no composite runs: one that starts later
/// (a SIP call, a hall screen) shows the page at once.
pub fn refresh(state: &AppState, meeting: &str) {
    let (state, meeting) = (state.clone(), meeting.to_string());
    tokio::spawn(async move {
        let agendas = Agendas::new(state.store.clone());
        let now = match agendas.presentation(&meeting).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, %meeting, "the composite's page: presentation unread");
                return;
            }
        };
        let Some(p) = now else {
            state.composer.page(&meeting, None);
            return;
        };
        let page = match draw(&state, &p).await {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(error = %e, %meeting, document = %p.document_id, page = p.page,
                    "the composite shows no page");
                None
            }
        };
        // Another page may have been shown while this one was drawn: only
        // the presentation still current goes on the picture.
        let still = agendas.presentation(&meeting).await.ok().flatten();
        if still.is_some_and(|s| s.document_id == p.document_id && s.page == p.page) {
            state.composer.page(&meeting, page);
        }
    });
}

async fn draw(state: &AppState, p: &Presentation) -> anyhow::Result<crate::compose::frame::Frame> {
    let doc = state.documents.get(&p.meeting_id, &p.document_id).await?;
    let mut body = state
        .documents
        .read(&p.meeting_id, &p.document_id, 0, doc.size_bytes)
        .await?;
    let mut pdf = Vec::with_capacity(doc.size_bytes as usize);
    while let Some(chunk) = body.next().await {
        pdf.extend_from_slice(&chunk?);
    }
    let _turn = RENDERING.acquire().await?;
    let (w, h) = state.composer.page_size();
    let page = p.page;
    Ok(
        tokio::task::spawn_blocking(move || crate::compose::page::render_page(&pdf, page, w, h))
            .await??,
    )
}
