package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web/feedview"
	"github.com/tidingsdev/tidings/workflow"
)

// option is one choice of a select: its value, what people read, and
// whether it is chosen.
type option struct {
	Value, Label string
	Selected     bool
}

// condRow is one condition of the form.
type condRow struct {
	Attribute, Operator, Value string
	Attributes, Operators      []option
	Err                        map[string]string // "attribute", "operator", "value", "" for the row
}

// paramField is one parameter of one action type in an action row.
type paramField struct {
	Name, Label, Hint, Value, Err string
	Required                      bool
}

// actType is one action type as a row offers it, with its parameters.
type actType struct {
	Name, Label string
	Params      []paramField
}

// actRow is one action of the form: its type and the raw text of every
// parameter of every action type (only the chosen type's are read).
type actRow struct {
	Type   string
	Types  []option
	Params map[string]string // "<type>.<param>" -> text
	Err    map[string]string // "type", "<type>.<param>", "" for the row
	Fields []actType
}

type form struct {
	ID                    int64
	Version               int64
	Name                  string
	Domain                string
	TriggeredOn           string
	Triggers              []option
	ScopeID               string
	ScopeLabel            string
	Enabled               bool
	AllowWorkflowTriggers bool
	Conds                 []condRow
	ConditionsJSON        string
	Acts                  []actRow
	Errors                map[string]string // name, triggered_on, scope, conditions, actions
	Other                 []string
	DryRun                *dryRunView
	DryRunEvents          int
	Action                string // the form's action URL
}

type dryRunView struct {
	Checked, Matched int
	Events           []dryRunEvent
}

type dryRunEvent struct {
	feedview.Line
	Matched bool
	Why     string
}

// multi reports whether the editor has several domains: trigger values
// are then "domain/action".
func (e *Editor) multi() bool { return len(e.names) > 1 }

func (e *Editor) triggerValue(domain, action string) string {
	if e.multi() {
		return domain + "/" + action
	}
	return action
}

// newForm returns an empty form of the editor's first domain.
func (e *Editor) newForm() *form {
	return &form{Domain: e.names[0], Errors: map[string]string{}, DryRunEvents: e.cfg.DryRunEvents}
}

// decorate fills what the form offers, in the reader's words, keeping
// what was chosen even when it is not on offer (so an error shows next
// to the choice that caused it).
func (e *Editor) decorate(q request, f *form) {
	f.Triggers = nil
	chosen := e.triggerValue(f.Domain, f.TriggeredOn)
	found := false
	for _, name := range e.names {
		d := e.domains[name]
		for _, a := range d.Actions() {
			v := e.triggerValue(name, a)
			label := e.cfg.Words.Action(q.locale, d, a)
			if e.multi() {
				label = e.cfg.Words.Domain(q.locale, name) + ": " + label
			}
			f.Triggers = append(f.Triggers, option{Value: v, Label: label, Selected: v == chosen})
			found = found || v == chosen
		}
	}
	if !found && f.TriggeredOn != "" {
		f.Triggers = append(f.Triggers, option{Value: chosen, Label: f.TriggeredOn, Selected: true})
	}
	f.ScopeLabel = e.cfg.Words.Domain(q.locale, f.Domain)
	schema := e.cfg.Rules.Schema(f.Domain)
	labels := e.attributeLabels(q, f.Domain)
	for i := range f.Conds {
		c := &f.Conds[i]
		c.Attributes, c.Operators = nil, nil
		found := false
		if schema != nil {
			for _, a := range schema.Attributes() {
				c.Attributes = append(c.Attributes, option{Value: a.Name, Label: labels[a.Name], Selected: a.Name == c.Attribute})
				found = found || a.Name == c.Attribute
			}
		}
		if !found && c.Attribute != "" {
			c.Attributes = append(c.Attributes, option{Value: c.Attribute, Label: c.Attribute, Selected: true})
		}
		// Every comparison, whatever the field: the page has no script to
		// narrow the list when the field changes; a comparison that does
		// not apply is an error at its field.
		found = false
		for _, op := range allOperators {
			c.Operators = append(c.Operators, option{Value: string(op), Label: q.t(e.cfg.Words, "rules.op."+string(op)), Selected: string(op) == c.Operator})
			found = found || string(op) == c.Operator
		}
		if !found && c.Operator != "" {
			c.Operators = append(c.Operators, option{Value: c.Operator, Label: q.t(e.cfg.Words, "rules.op."+c.Operator), Selected: true})
		}
	}
	infos := e.cfg.Rules.Registry().Describe()
	for i := range f.Acts {
		a := &f.Acts[i]
		a.Types, a.Fields = nil, nil
		found := false
		for _, ai := range infos {
			label := e.actionLabel(q, ai.Name)
			a.Types = append(a.Types, option{Value: ai.Name, Label: label, Selected: ai.Name == a.Type})
			found = found || ai.Name == a.Type
			t := actType{Name: ai.Name, Label: label}
			for _, pname := range sortedKeys(ai.Params) {
				p := ai.Params[pname]
				key := ai.Name + "." + pname
				lk := "rules.param." + key
				label := q.t(e.cfg.Words, lk)
				if label == lk {
					label = capitalize(strings.ReplaceAll(pname, "_", " "))
				}
				hint := q.t(e.cfg.Words, "rules.hint."+key)
				if hint == "rules.hint."+key {
					hint = p.Doc
				}
				t.Params = append(t.Params, paramField{Name: pname, Label: label, Hint: hint, Value: a.Params[key], Err: a.Err[key], Required: p.Required})
			}
			a.Fields = append(a.Fields, t)
		}
		if !found && a.Type != "" {
			a.Types = append(a.Types, option{Value: a.Type, Label: a.Type, Selected: true})
		}
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var allOperators = []workflow.Operator{"eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "starts_with", "matches",
	"exists", "not_exists", "older_than", "newer_than", "changed_from", "changed_to"}

// pad adds blank rows so the form always offers one more condition and
// at least one action.
func (f *form) pad() {
	if f.ConditionsJSON == "" {
		if n := len(f.Conds); n == 0 || f.Conds[n-1].Attribute != "" || f.Conds[n-1].Operator != "" || f.Conds[n-1].Value != "" {
			f.Conds = append(f.Conds, condRow{})
		}
	}
	if len(f.Acts) == 0 {
		f.Acts = append(f.Acts, actRow{Params: map[string]string{}})
	}
}

// formOf fills the form from a saved rule.
func (e *Editor) formOf(r workflow.Rule) *form {
	f := e.newForm()
	f.ID, f.Version, f.Name, f.Domain, f.TriggeredOn = r.ID, r.Version, r.Name, r.Domain, r.TriggeredOn
	f.Enabled, f.AllowWorkflowTriggers = r.Enabled, r.AllowWorkflowTriggers
	if r.Scope.Kind == workflow.ScopeSubject {
		f.ScopeID = r.Scope.ID
	}
	grouped := false
	for _, c := range r.Conditions {
		grouped = grouped || c.AnyOf != nil || c.AllOf != nil
	}
	if grouped {
		b, _ := json.MarshalIndent(r.Conditions, "", "  ")
		f.ConditionsJSON = string(b)
	} else {
		for _, c := range r.Conditions {
			f.Conds = append(f.Conds, condRow{Attribute: c.Attribute, Operator: string(c.Operator), Value: valueText(c.Value)})
		}
	}
	for _, act := range r.Actions {
		row := actRow{Type: act.Type, Params: map[string]string{}}
		for k, v := range act.Params {
			row.Params[act.Type+"."+k] = valueText(v)
		}
		f.Acts = append(f.Acts, row)
	}
	return f
}

func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = valueText(e)
		}
		return strings.Join(parts, ", ")
	case []string:
		return strings.Join(x, ", ")
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// parse reads the posted form into the form's rows and the rule.
func (e *Editor) parse(q request, r *http.Request, id int64) (*form, workflow.Rule) {
	f := e.newForm()
	f.ID = id
	f.Name = strings.TrimSpace(r.PostFormValue("name"))
	trigger := r.PostFormValue("triggered_on")
	if e.multi() {
		if d, a, ok := strings.Cut(trigger, "/"); ok && e.domains[d] != nil {
			f.Domain, f.TriggeredOn = d, a
		} else {
			f.TriggeredOn = trigger
		}
	} else {
		f.TriggeredOn = trigger
	}
	f.ScopeID = strings.TrimSpace(r.PostFormValue("scope_id"))
	f.Enabled = r.PostFormValue("enabled") != ""
	f.AllowWorkflowTriggers = r.PostFormValue("allow_workflow_triggers") != ""
	f.ConditionsJSON = strings.TrimSpace(r.PostFormValue("conditions_json"))
	f.Version, _ = strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	rule := workflow.Rule{ID: id, Version: f.Version, Name: f.Name, Domain: f.Domain, TriggeredOn: f.TriggeredOn,
		Enabled: f.Enabled, AllowWorkflowTriggers: f.AllowWorkflowTriggers, Scope: workflow.DomainScope()}
	if f.ScopeID != "" {
		rule.Scope = workflow.SubjectScope(f.ScopeID)
	}
	types := map[string]workflow.Type{}
	if s := e.cfg.Rules.Schema(f.Domain); s != nil {
		for _, at := range s.Attributes() {
			types[at.Name] = at.Type
		}
	}
	attrs, ops, vals := r.PostForm["cond_attribute"], r.PostForm["cond_operator"], r.PostForm["cond_value"]
	for i := range attrs {
		row := condRow{Attribute: attrs[i]}
		if i < len(ops) {
			row.Operator = ops[i]
		}
		if i < len(vals) {
			row.Value = vals[i]
		}
		if row.Attribute == "" && row.Operator == "" && strings.TrimSpace(row.Value) == "" {
			continue // a blank row
		}
		f.Conds = append(f.Conds, row)
	}
	if f.ConditionsJSON != "" {
		var cs workflow.Conditions
		if err := json.Unmarshal([]byte(f.ConditionsJSON), &cs); err != nil {
			f.Errors["conditions"] = q.t(e.cfg.Words, "rules.error.conditions", err.Error())
		}
		rule.Conditions = cs
	} else {
		for _, row := range f.Conds {
			rule.Conditions = append(rule.Conditions, workflow.Condition{Attribute: row.Attribute, Operator: workflow.Operator(row.Operator),
				Value: conditionValue(row.Operator, row.Value, types[row.Attribute])})
		}
	}
	infos := map[string]workflow.ActionInfo{}
	for _, ai := range e.cfg.Rules.Registry().Describe() {
		infos[ai.Name] = ai
	}
	for i, typ := range r.PostForm["action_type"] {
		row := actRow{Type: typ, Params: map[string]string{}}
		prefix := fmt.Sprintf("action%d.", i)
		for k, v := range r.PostForm {
			if strings.HasPrefix(k, prefix) && len(v) > 0 {
				row.Params[strings.TrimPrefix(k, prefix)] = v[0]
			}
		}
		if typ == "" {
			continue
		}
		f.Acts = append(f.Acts, row)
		params := workflow.Params{}
		for name, p := range infos[typ].Params {
			raw, ok := row.Params[typ+"."+name]
			if !ok || strings.TrimSpace(raw) == "" {
				continue
			}
			params[name] = paramValue(raw, p.Type)
		}
		rule.Actions = append(rule.Actions, workflow.Do(typ, params))
	}
	return f, rule
}

// conditionValue turns a form's text into the condition's JSON value,
// typed by the attribute; the schema then checks it.
func conditionValue(op, text string, t workflow.Type) any {
	text = strings.TrimSpace(text)
	switch workflow.Operator(op) {
	case workflow.OpExists, workflow.OpNotExists:
		return nil
	case workflow.OpIn, workflow.OpNotIn:
		var list []any
		for _, s := range strings.Split(text, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, scalar(s, t.Kind()))
			}
		}
		return list
	case workflow.OpOlderThan, workflow.OpNewerThan, workflow.OpMatches:
		return text
	}
	if text == "" {
		return nil
	}
	return scalar(text, t.Kind())
}

func scalar(s string, kind workflow.Type) any {
	switch kind {
	case workflow.Number:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	case workflow.Bool:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return s
}

func paramValue(s string, t workflow.Type) any {
	if t.IsList() {
		var list []any
		for _, e := range strings.Split(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				list = append(list, scalar(e, t.Kind()))
			}
		}
		return list
	}
	return scalar(s, t.Kind())
}

var problemField = regexp.MustCompile(`^(conditions|actions)\[(\d+)\](?:\.(.+))?$`)

// place puts each problem of err at its field of the form, in the
// reader's words.
func (e *Editor) place(q request, f *form, err error) {
	var ve *workflow.ValidationError
	if !errors.As(err, &ve) {
		f.Other = append(f.Other, err.Error())
		return
	}
	t := func(key string, args ...any) string { return q.t(e.cfg.Words, key, args...) }
	types := map[string]workflow.Type{}
	if s := e.cfg.Rules.Schema(f.Domain); s != nil {
		for _, at := range s.Attributes() {
			types[at.Name] = at.Type
		}
	}
	for _, p := range ve.Problems {
		m := problemField.FindStringSubmatch(p.Field)
		switch {
		case m != nil && m[1] == "conditions" && f.ConditionsJSON == "":
			i, _ := strconv.Atoi(m[2])
			if i < len(f.Conds) {
				c := &f.Conds[i]
				if c.Err == nil {
					c.Err = map[string]string{}
				}
				var key, msg string
				switch m[3] {
				case "attribute":
					key, msg = "attribute", t("rules.error.attribute")
				case "operator":
					key, msg = "operator", t("rules.error.operator")
				case "value":
					key, msg = "value", e.valueError(q, c, types[c.Attribute], p.Message)
				default:
					key, msg = "", t("rules.error.value_any", p.Message)
				}
				c.Err[key] = join(c.Err[key], msg)
				continue
			}
		case m != nil && m[1] == "actions":
			i, _ := strconv.Atoi(m[2])
			if i < len(f.Acts) {
				a := &f.Acts[i]
				if a.Err == nil {
					a.Err = map[string]string{}
				}
				key, msg := "", t("rules.error.param_bad", p.Message)
				switch {
				case m[3] == "type":
					key, msg = "type", t("rules.error.action")
				case strings.HasPrefix(m[3], "params."):
					key = a.Type + "." + strings.TrimPrefix(m[3], "params.")
					if strings.HasPrefix(p.Message, "required") {
						msg = t("rules.error.param")
					}
				}
				a.Err[key] = join(a.Err[key], msg)
				continue
			}
		case m != nil && m[1] == "conditions":
			f.Errors["conditions"] = join(f.Errors["conditions"], t("rules.error.conditions", p.String()))
			continue
		}
		field, _, _ := strings.Cut(p.Field, ".")
		switch field {
		case "name":
			msg := t("rules.error.name")
			if !strings.HasPrefix(p.Message, "required") {
				msg = t("rules.error.name_long", workflow.MaxNameLength)
			}
			f.Errors["name"] = join(f.Errors["name"], msg)
		case "triggered_on", "domain":
			f.Errors["triggered_on"] = join(f.Errors["triggered_on"], t("rules.error.trigger"))
		case "scope":
			f.Errors["scope"] = join(f.Errors["scope"], t("rules.error.scope", e.cfg.Words.Domain(q.locale, f.Domain), f.ScopeID))
		case "actions":
			msg := t("rules.error.actions")
			if strings.HasPrefix(p.Message, "has ") {
				msg = t("rules.error.too_many", workflow.MaxActions)
			}
			f.Errors["actions"] = join(f.Errors["actions"], msg)
		case "conditions":
			f.Errors["conditions"] = join(f.Errors["conditions"], t("rules.error.conditions", p.Message))
		default:
			f.Other = append(f.Other, p.String())
		}
	}
}

// valueError says what is wrong with a condition's value, in words of the
// attribute's type.
func (e *Editor) valueError(q request, c *condRow, typ workflow.Type, msg string) string {
	t := func(key string, args ...any) string { return q.t(e.cfg.Words, key, args...) }
	v := strings.TrimSpace(c.Value)
	if v == "" || strings.HasPrefix(msg, "required") {
		return t("rules.error.value_need")
	}
	switch workflow.Operator(c.Operator) {
	case workflow.OpMatches:
		return t("rules.error.value", v, t("rules.kind.regexp"))
	case workflow.OpOlderThan, workflow.OpNewerThan:
		return t("rules.error.value", v, t("rules.kind.duration"))
	}
	switch typ.Kind() {
	case workflow.Time:
		return t("rules.error.value", v, t("rules.kind.time"))
	case workflow.Number:
		return t("rules.error.value", v, t("rules.kind.number"))
	case workflow.Bool:
		return t("rules.error.value", v, t("rules.kind.bool"))
	}
	return t("rules.error.value_any", msg)
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// cleanText reports whether every posted value is text people typed, and
// makes it so (invalid UTF-8 replaced, NUL bytes dropped).
func cleanText(r *http.Request) bool {
	ok := true
	for _, vs := range r.PostForm {
		for i, v := range vs {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				ok = false
				vs[i] = strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "")
			}
		}
	}
	return ok
}

// maxForm caps a posted rule form.
const maxForm = 256 << 10

func (e *Editor) newRule(w http.ResponseWriter, r *http.Request) {
	q := e.req(r)
	f := e.newForm()
	f.Enabled = true
	f.Action = e.cfg.Prefix + "/new"
	f.pad()
	e.decorate(q, f)
	e.render(w, r, http.StatusOK, "form", q.t(e.cfg.Words, "rules.new"), f)
}

func (e *Editor) edit(w http.ResponseWriter, r *http.Request) {
	q := e.req(r)
	rule, code, ok := e.load(w, r)
	if !ok {
		return
	}
	if code {
		e.refuse(w, r, http.StatusForbidden, "rules.in_code_intro")
		return
	}
	f := e.formOf(rule)
	f.Action = fmt.Sprintf("%s/%d/edit", e.cfg.Prefix, rule.ID)
	f.pad()
	e.decorate(q, f)
	e.render(w, r, http.StatusOK, "form", q.t(e.cfg.Words, "rules.edit", rule.Name), f)
}

// save handles the form's buttons: save, dry run, and adding a condition
// or an action row.
func (e *Editor) save(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := e.req(r)
	var id int64
	action := e.cfg.Prefix + "/new"
	if r.PathValue("id") != "" {
		saved, code, ok := e.load(w, r)
		if !ok {
			return
		}
		if code {
			e.refuse(w, r, http.StatusForbidden, "rules.in_code_intro")
			return
		}
		id = saved.ID
		action = fmt.Sprintf("%s/%d/edit", e.cfg.Prefix, id)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		e.refuse(w, r, http.StatusRequestEntityTooLarge, "rules.form_too_large")
		return
	}
	clean := cleanText(r)
	f, rule := e.parse(q, r, id)
	f.Action = action
	title := q.t(e.cfg.Words, "rules.new")
	if id != 0 {
		title = q.t(e.cfg.Words, "rules.edit", f.Name)
	}
	status := http.StatusOK
	done := func() {
		f.pad()
		e.decorate(q, f)
		e.render(w, r, status, "form", title, f)
	}
	if !clean {
		f.Other = append(f.Other, q.t(e.cfg.Words, "rules.invalid_text")+" (invalid UTF-8)")
		status = http.StatusUnprocessableEntity
		done()
		return
	}
	switch r.PostFormValue("op") {
	case "add_condition":
		f.Conds = append(f.Conds, condRow{})
	case "add_action":
		f.Acts = append(f.Acts, actRow{Params: map[string]string{}})
	case "dryrun":
		if len(f.Errors) > 0 {
			status = http.StatusUnprocessableEntity
			break
		}
		dr, err := e.cfg.Rules.DryRun(ctx, rule, e.cfg.DryRunEvents)
		if err != nil {
			if !errors.Is(err, workflow.ErrInvalidRule) {
				e.fail(w, r, err)
				return
			}
			e.place(q, f, err)
			status = http.StatusUnprocessableEntity
			break
		}
		view, err := e.dryRunView(ctx, q, rule.Domain, dr)
		if err != nil {
			e.fail(w, r, err)
			return
		}
		f.DryRun = view
	default: // save
		if len(f.Errors) > 0 {
			status = http.StatusUnprocessableEntity
			break
		}
		by := q.id.Person.String()
		var saved workflow.Rule
		var err error
		if id == 0 {
			saved, err = e.cfg.Rules.Create(ctx, by, rule)
		} else {
			saved, err = e.cfg.Rules.Update(ctx, by, rule)
		}
		var conflict *workflow.ConflictError
		switch {
		case errors.As(err, &conflict):
			f.Other = append(f.Other, q.t(e.cfg.Words, "rules.conflict", e.who(ctx, q, conflict.UpdatedBy), e.cfg.Words.Ago(q.locale, e.cfg.Now(), conflict.UpdatedAt)))
			status = http.StatusConflict
		case errors.Is(err, workflow.ErrInvalidRule):
			e.place(q, f, err)
			status = http.StatusUnprocessableEntity
		case err != nil:
			e.fail(w, r, err)
			return
		default:
			http.Redirect(w, r, fmt.Sprintf("%s/%d", e.cfg.Prefix, saved.ID), http.StatusSeeOther)
			return
		}
	}
	done()
}

func (e *Editor) dryRunView(ctx context.Context, q request, domain string, dr workflow.DryRun) (*dryRunView, error) {
	view := &dryRunView{Checked: dr.Checked, Matched: dr.Matched}
	d := e.domains[domain]
	keys := make([]string, 0, len(dr.Events))
	evs := make([]activity.Event, len(dr.Events))
	for i, ev := range dr.Events {
		keys = append(keys, ev.Event.SubjectID)
		evs[i] = ev.Event
	}
	names, err := e.subjects(ctx, domain, keys)
	if err != nil {
		return nil, err
	}
	labels := make(map[string]string, len(names))
	for k, s := range names {
		labels[k] = s.Label
	}
	entries, err := d.Resolve(ctx, e.cfg.DB, evs)
	if err != nil {
		return nil, err
	}
	for i, ev := range dr.Events {
		l := e.cfg.Feed.Line(entries[i], labels)
		l.Href = e.eventHref(ev.Event.Ref())
		if l.Subject != "" {
			l.SubjectHref = names[ev.Event.SubjectID].Href
		}
		why := ev.Explanation
		if ev.Error != "" {
			why = q.t(e.cfg.Words, "rules.dry_run_unknown", ev.Error)
		}
		view.Events = append(view.Events, dryRunEvent{Line: l, Matched: ev.Matched, Why: why})
	}
	return view, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
