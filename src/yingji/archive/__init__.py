"""一事一档: case files of incidents (.docx and .zip with a manifest), the evaluation after
closing, and replay."""
