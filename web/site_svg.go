package web

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// An SVG logo is checked against allowlists (review of #16: a denylist let
// through <?xml-stylesheet?>, CSS escapes, @import split by a comment,
// <set>/<animate> of href, elements of other namespaces, image-set() and
// @font-face). What a logo needs is shapes, text, gradients, clipping and
// masks; everything else is refused, so that it can neither run script
// nor load anything. docs/branding.md lists the same.

// svgNS and xlinkNS are the only namespaces an SVG logo may use (and
// xml: for xml:space and xml:lang).
const (
	svgNS   = "http://www.w3.org/2000/svg"
	xlinkNS = "http://www.w3.org/1999/xlink"
	xmlNS   = "http://www.w3.org/XML/1998/namespace"
)

// svgElements are the elements an SVG logo may hold: no script, no
// foreign content, no animation (<set>, <animate>), no <image> and no
// filter primitive that loads (feImage).
var svgElements = words(`svg g defs title desc symbol use path rect circle ellipse line polyline polygon
	text tspan textPath linearGradient radialGradient stop clipPath mask pattern marker style
	filter feGaussianBlur feOffset feBlend feColorMatrix feFlood feComposite feMerge feMergeNode feDropShadow`)

// svgAttributes are the attributes an SVG logo may use: geometry,
// presentation and references within itself.
var svgAttributes = words(`id class style lang role aria-label aria-hidden focusable version baseProfile
	viewBox width height x y x1 y1 x2 y2 cx cy r rx ry fx fy fr d points pathLength transform
	preserveAspectRatio href dx dy rotate textLength lengthAdjust startOffset method spacing side
	fill fill-opacity fill-rule stroke stroke-width stroke-linecap stroke-linejoin stroke-miterlimit
	stroke-dasharray stroke-dashoffset stroke-opacity opacity color display visibility overflow
	clip-path clip-rule clipPathUnits mask maskUnits maskContentUnits filter filterUnits primitiveUnits
	offset stop-color stop-opacity gradientUnits gradientTransform spreadMethod
	patternUnits patternContentUnits patternTransform
	markerWidth markerHeight markerUnits refX refY orient marker-start marker-mid marker-end
	font-family font-size font-weight font-style font-variant font-stretch text-anchor
	dominant-baseline alignment-baseline baseline-shift letter-spacing word-spacing text-decoration
	writing-mode direction unicode-bidi
	vector-effect paint-order shape-rendering text-rendering color-interpolation color-interpolation-filters
	in in2 result mode type values operator k1 k2 k3 k4 stdDeviation edgeMode flood-color flood-opacity
	mix-blend-mode isolation space`)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// svgRef is a reference within the logo: "#id".
var svgRef = regexp.MustCompile(`^#[A-Za-z_][A-Za-z0-9_.:-]*$`)

// cssURL finds each url( in a style, and cssLocalURL is the only kind
// allowed: url(#id), url('#id'), url("#id").
var (
	cssURL      = regexp.MustCompile(`(?i)url\s*\(`)
	cssLocalURL = regexp.MustCompile(`(?i)^url\(\s*(?:#[A-Za-z_][A-Za-z0-9_.:-]*|'#[A-Za-z_][A-Za-z0-9_.:-]*'|"#[A-Za-z_][A-Za-z0-9_.:-]*")\s*\)`)
)

// checkStyle refuses a style (a <style> element's text or an attribute's
// value) that could load anything or hide what it does: at-rules
// (@import, @font-face), backslash escapes, comments, image-set(), and
// url() other than to "#id".
func checkStyle(s string) error {
	low := strings.ToLower(s)
	switch {
	case strings.Contains(low, "@"):
		return errors.New("has a style with an at-rule (@import, @font-face, …); an SVG logo may refer only to parts of itself")
	case strings.Contains(low, `\`):
		return errors.New(`has a style with a backslash escape; an SVG logo's style must be plain`)
	case strings.Contains(low, "/*"):
		return errors.New("has a style with a comment; an SVG logo's style must be plain")
	case strings.Contains(low, "image-set") || strings.Contains(low, "image(") || strings.Contains(low, "src("):
		return errors.New("has a style that loads from elsewhere (image-set()); an SVG logo may refer only to parts of itself")
	}
	for _, loc := range cssURL.FindAllStringIndex(s, -1) {
		if !cssLocalURL.MatchString(s[loc[0]:]) {
			return errors.New("has a style that loads from elsewhere (url() not to #…); an SVG logo may refer only to parts of itself")
		}
	}
	return nil
}

// checkSVG accepts an SVG document made only of svgElements with
// svgAttributes, in the SVG namespace (xlink: and xml: for attributes),
// whose references go to "#id" within it and whose styles pass
// checkStyle; no DOCTYPE and no processing instruction but the XML
// declaration.
func checkSVG(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	root := true
	var open []string // the elements open, innermost last
	var style strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if root {
				return errNotImage
			}
			return nil
		}
		if err != nil {
			if root {
				return errNotImage
			}
			return fmt.Errorf("is not a well-formed SVG image: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			// A DOCTYPE may declare entities; an SVG needs none.
			return errors.New("has a <!DOCTYPE …> or <!ENTITY …>, which an SVG logo needs not; remove it")
		case xml.ProcInst:
			if t.Target != "xml" || !root {
				return fmt.Errorf("has a processing instruction <?%s …?>; an SVG logo may have only the XML declaration", t.Target)
			}
		case xml.StartElement:
			if root {
				if t.Name.Local != "svg" && !strings.EqualFold(t.Name.Local, "svg") {
					return errNotImage
				}
				root = false
			}
			if len(open) > 0 && open[len(open)-1] == "style" {
				// A browser joins the style's text around an element in
				// it: "@<g/>import" is "@import".
				return fmt.Errorf("has a <%s> element inside <style>; an SVG logo's style must be text alone", t.Name.Local)
			}
			if err := checkSVGElement(t); err != nil {
				return err
			}
			open = append(open, t.Name.Local)
			if t.Name.Local == "style" {
				style.Reset()
			}
		case xml.EndElement:
			if len(open) > 0 && open[len(open)-1] == "style" {
				// The whole text, whatever comments or CDATA split it.
				if err := checkStyle(style.String()); err != nil {
					return err
				}
			}
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		case xml.CharData:
			if root && len(bytes.TrimSpace(t)) > 0 {
				return errNotImage
			}
			if len(open) > 0 && open[len(open)-1] == "style" {
				style.Write(t)
			}
		}
	}
}

// checkSVGElement checks one element's name, namespace and attributes.
func checkSVGElement(t xml.StartElement) error {
	name := t.Name.Local
	switch strings.ToLower(name) {
	case "script", "foreignobject", "iframe", "embed", "object", "handler", "listener":
		return fmt.Errorf("has a <%s> element; an SVG logo may not contain script or other documents", name)
	}
	if t.Name.Space != "" && t.Name.Space != svgNS {
		return fmt.Errorf("has an element <%s> of the namespace %q; an SVG logo may use only SVG's", name, t.Name.Space)
	}
	if !svgElements[name] {
		return fmt.Errorf("has a <%s> element, which an SVG logo may not contain (see docs/branding.md for the elements allowed)", name)
	}
	for _, a := range t.Attr {
		an := a.Name.Local
		v := strings.TrimSpace(a.Value)
		switch {
		case strings.HasPrefix(strings.ToLower(an), "on"):
			return fmt.Errorf("has an event handler (%s) on <%s>; an SVG logo may not contain script", an, name)
		case a.Name.Space == "xmlns" || a.Name.Space == "" && an == "xmlns":
			if v != svgNS && v != xlinkNS {
				return fmt.Errorf("declares the namespace %q on <%s>; an SVG logo may use only SVG's and XLink's", a.Value, name)
			}
			continue
		case a.Name.Space == xmlNS || a.Name.Space == "xml":
			if an != "space" && an != "lang" {
				return fmt.Errorf("has the attribute xml:%s on <%s>, which an SVG logo may not use", an, name)
			}
			continue
		case a.Name.Space == xlinkNS:
			if an != "href" && an != "title" {
				return fmt.Errorf("has the attribute xlink:%s on <%s>, which an SVG logo may not use", an, name)
			}
		case a.Name.Space != "":
			return fmt.Errorf("has an attribute %s of the namespace %q on <%s>; an SVG logo may use only SVG's", an, a.Name.Space, name)
		case !svgAttributes[an]:
			return fmt.Errorf("has the attribute %s on <%s>, which an SVG logo may not use (see docs/branding.md)", an, name)
		}
		if an == "href" && !svgRef.MatchString(v) {
			return fmt.Errorf("refers to %q in <%s>; an SVG logo may refer only to parts of itself (#…)", a.Value, name)
		}
		if err := checkStyle(v); err != nil && an != "aria-label" { // every value may be CSS (presentation attributes)
			return fmt.Errorf("attribute %s on <%s>: %w", an, name, err)
		}
	}
	return nil
}
