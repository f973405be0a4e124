"""Teams on one brand: members and roles, shares, public links, threaded comments, the audit
log, and the one authorisation rule every resource method goes through (:mod:`.access`)."""
from .access import Access, allows, authorize, can
from .links import LinkToken, LinkView, open_link
from .members import Members
from .service import Collab

__all__ = ["Access", "allows", "authorize", "can", "Collab", "Members", "LinkToken", "LinkView", "open_link"]
