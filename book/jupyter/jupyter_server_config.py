# The book's JupyterLab (book/lab.sh puts this folder first on Jupyter's config path; the .json beside
# it holds the other settings).
#
# A notebook stores the Python version it was executed on (language_info.version, 3.11.7 for the
# book's chapters). When JupyterLab connects a kernel it writes the kernel's language_info into the
# notebook, and where the version differs the tab shows "modified" (●) before the reader did anything,
# and closing it asks to save changes they never made: on every Python but the one the book was run on
# (Debian 12's python3.11 is 3.11.2). The server hands out each notebook with the version of the
# Python it runs on, which is the kernel's (the python3 kernel of the book's environment). The file
# on disk is unchanged until the reader saves it, when JupyterLab would have written that version anyway.
import platform

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager


class BookContentsManager(AsyncLargeFileManager):
    """Jupyter Server's default contents manager; a notebook's language_info.version is this Python's."""

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if model.get("type") == "notebook" and model.get("content"):
            info = model["content"].get("metadata", {}).get("language_info")
            if isinstance(info, dict) and info.get("name") == "python" and "version" in info:
                info["version"] = platform.python_version()
        return model


c.ServerApp.contents_manager_class = BookContentsManager  # noqa: F821 (c: the config Jupyter passes in)
