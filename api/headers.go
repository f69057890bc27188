package api

import "github.com/gofiber/fiber/v2"

// contentSecurityPolicy lets the pages load only their own scripts and
// talk only to this origin (sockets included), and keeps them out of
// frames. Styles may be inline: the pages set element styles from script.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// securityHeaders go with every answer, errors included: no sniffing of
// types, no framing, no referrer (callback URLs carry nonces), and the
// content security policy for the pages.
func securityHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	return c.Next()
}
