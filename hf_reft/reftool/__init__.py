"""RefTool (Liu et al. 2025): reference books, chat backends and toolboxes."""
