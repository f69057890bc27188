package api

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// ClusterInfo tells admins (and failure tests) how the actor cluster looks
// from this node.
type ClusterInfo interface {
	Self() string
	MemberAddresses() []string
	// LotOwner is the address of the member hosting the lot's grain.
	LotOwner(lotID int64) string
}

type clusterResponse struct {
	Self     string   `json:"self"`
	Members  []string `json:"members"`
	LotID    int64    `json:"lot_id,omitempty"`
	LotOwner string   `json:"lot_owner,omitempty"`
}

func (s *Server) clusterInfo(c *fiber.Ctx) error {
	if s.deps.Cluster == nil {
		return fiber.ErrNotFound
	}
	out := clusterResponse{Self: s.deps.Cluster.Self(), Members: s.deps.Cluster.MemberAddresses()}
	if raw := c.Query("lot_id"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return badRequest("invalid_query", "lot_id must be a positive whole number")
		}
		out.LotID, out.LotOwner = id, s.deps.Cluster.LotOwner(id)
	}
	return c.JSON(out)
}
