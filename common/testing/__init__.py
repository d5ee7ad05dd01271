"""Test helpers shared by the apps' suites (pytest plugins, never imported by the site)."""
