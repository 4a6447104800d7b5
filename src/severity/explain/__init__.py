"""Explanations of any champion family in one unit, and their aggregation to raw input fields."""
