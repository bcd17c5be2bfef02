-- Placeholder: filled by the minutes work (issue 4).
SELECT 1;
