# Multi-stage build: a static shelflife binary on a distroless base, run as
# a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/shelflife ./cmd/shelflife \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/fakekakao ./cmd/fakekakao

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/shelflife /shelflife
COPY --from=build /out/fakekakao /fakekakao
COPY configs/compose.yaml /configs/compose.yaml
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/shelflife", "-config", "/configs/compose.yaml"]
