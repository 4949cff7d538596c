"""The app: Gradio tabs and the HTTP routes, as plain functions over the answer engine."""
