"""DOCX and PPTX partitioners (python-docx / python-pptx / unstructured) and what they share."""
