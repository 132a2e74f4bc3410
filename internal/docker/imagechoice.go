package docker

import (
	"context"
	"fmt"
	"strings"

	dc "github.com/ory/dockertest/v3/docker"
)

// ImageChoice is what a driver may run: an image the user asked for, the
// official image, one built offline from Debian packages, or the newest
// local image of a repository of ours. Engine.ResolveImage picks one the
// same way for every driver.
type ImageChoice struct {
	Asked    string       // --image; "" for the default
	Official string       // used when local or pullable; "" for none
	Offline  *DebianImage // built from Debian packages; nil for none
	// OwnRepo: the newest local image of this repository is used when
	// neither the official nor the offline image is (Riak's release
	// images, built by `evalrun images build riak --release DIR`).
	OwnRepo string
	// Hint says how to get an image when none is available.
	Hint string
}

// ResolveImage returns the reference and ID of the image to run, making it
// present. With Asked: that image (local, else our offline recipe built
// when Asked names its repository, else pulled). Without: the official
// image when local, else our offline image when local (no network), else
// the newest local OwnRepo image, else the official image pulled, else the
// offline image built, else an error with Hint.
func (e *Engine) ResolveImage(ctx context.Context, ch ImageChoice) (ref, id string, err error) {
	if ch.Asked != "" {
		return e.resolveAsked(ctx, ch)
	}
	if ch.Official != "" {
		if id, ok, err := e.ImageID(ctx, ch.Official); err != nil || ok {
			return ch.Official, id, err
		}
	}
	if ch.Offline != nil {
		if ref, id, ok, err := e.LocalDebianImage(ctx, *ch.Offline); err != nil || ok {
			return ref, id, err
		}
	}
	if ch.OwnRepo != "" {
		if ref, id, err := e.NewestImage(ctx, ch.OwnRepo); err != nil || ref != "" {
			return ref, id, err
		}
	}
	var pullErr error
	if ch.Official != "" {
		id, err := e.EnsureImage(ctx, ch.Official, nil)
		if err == nil {
			return ch.Official, id, nil
		}
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		pullErr = err
	}
	if ch.Offline != nil {
		if pullErr != nil {
			e.logf("docker: %s; building an image from Debian packages instead", oneLine(pullErr))
		}
		return e.EnsureDebianImage(ctx, *ch.Offline)
	}
	why := "no image is named"
	if pullErr != nil {
		why = oneLine(pullErr)
	} else if ch.Official != "" {
		why = ch.Official + " is not present"
	}
	if ch.OwnRepo != "" {
		why += " and no " + ch.OwnRepo + " image exists"
	}
	return "", "", fmt.Errorf("docker: no image: %s%s", why, hintSuffix(ch.Hint))
}

func (e *Engine) resolveAsked(ctx context.Context, ch ImageChoice) (string, string, error) {
	if ch.Offline != nil && (ch.Asked == ch.Offline.Repo || ch.Asked == ch.Offline.Tag) {
		return e.EnsureDebianImage(ctx, *ch.Offline)
	}
	ours := ch.Offline != nil && strings.HasPrefix(ch.Asked, ch.Offline.Repo+":") ||
		ch.OwnRepo != "" && strings.HasPrefix(ch.Asked, ch.OwnRepo+":")
	if ours {
		// our images exist only where they were built: never pulled
		id, ok, err := e.ImageID(ctx, ch.Asked)
		if err != nil || ok {
			return ch.Asked, id, err
		}
		return "", "", fmt.Errorf("docker: image %s is not present locally (evalrun builds it; it is never pulled)%s", ch.Asked, hintSuffix(ch.Hint))
	}
	id, err := e.EnsureImage(ctx, ch.Asked, nil)
	if err != nil {
		return "", "", fmt.Errorf("%w%s", err, hintSuffix(ch.Hint))
	}
	return ch.Asked, id, nil
}

func hintSuffix(h string) string {
	if h == "" {
		return ""
	}
	return "; " + h
}

// NewestImage returns the most recently created local image of repo.
func (e *Engine) NewestImage(ctx context.Context, repo string) (ref, id string, err error) {
	imgs, err := e.client.ListImages(dc.ListImagesOptions{Filters: map[string][]string{"reference": {repo}}, Context: ctx})
	if err != nil {
		return "", "", fmt.Errorf("docker: list images: %w", err)
	}
	ref, id = newestTagged(imgs, func(t string) bool { return strings.HasPrefix(t, repo+":") })
	return ref, id, nil
}

// newestTagged returns the tag and ID of the most recently created image
// with a tag that match accepts. Dangling entries (<none>:<none>, what a
// rebuild leaves of the image its tag moved from) are never offered.
func newestTagged(imgs []dc.APIImages, match func(tag string) bool) (ref, id string) {
	var bestAt int64 = -1
	for _, im := range imgs {
		for _, t := range im.RepoTags {
			if t == "<none>:<none>" || !refRe.MatchString(t) || !match(t) {
				continue
			}
			if im.Created > bestAt {
				ref, id, bestAt = t, im.ID, im.Created
			}
		}
	}
	return ref, id
}
