//! Recording (issue 5): RTP depacketizers, a small reordering buffer and a
//! Matroska/WebM writer. Sans-IO like `media/`: bytes in, bytes out.
