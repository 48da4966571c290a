"""The chat page written in React against the generated client, and its build."""
