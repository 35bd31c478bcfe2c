"""The shape every widget shares: a static HTML view of its current state, and a live ipywidgets view.

Displaying a view puts both in one output: `application/vnd.jupyter.widget-view+json` (JupyterLab shows the
live widget) and `text/html` (the current view as escaped HTML). A report rendered without a kernel
(nbconvert with `nbconvert-config/`, which ranks `text/html` first) shows the static view, never
"Error displaying widget".
"""

from __future__ import annotations

from typing import Any

from .html import view


class View:
    """Subclasses implement `render()` (the body HTML of the current state) and `build()` (the ipywidgets tree)."""

    _widget: Any = None

    def render(self) -> str:
        raise NotImplementedError

    def build(self) -> Any:
        raise NotImplementedError

    def html(self) -> str:
        """The current view as a self-contained HTML fragment (styles included)."""
        return view(self.render())

    @property
    def widget(self) -> Any:
        """The live ipywidgets view, built on first use."""
        if self._widget is None:
            self._widget = self.build()
        return self._widget

    def snapshot(self) -> Any:
        """The current view as `IPython.display.HTML`: display it to keep a filtered view in a report."""
        from IPython.display import HTML

        return HTML(self.html())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_())
        bundle["text/html"] = self.html()
        return bundle

    def _repr_html_(self) -> str:
        return self.html()
