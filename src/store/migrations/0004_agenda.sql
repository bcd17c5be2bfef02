-- Placeholder: filled by the paperless work (issue 4).
SELECT 1;
