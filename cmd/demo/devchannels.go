package main

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tidingsdev/tidings/inbox/device"
)

// channelItem is one message a channel peer accepted, as the dev page
// shows it.
type channelItem struct {
	To    string // whom: a person and their number or device, or a webhook
	Title string
	Text  string
}

// channelList is one peer's messages, newest first: the newest
// devPageSize of Total.
type channelList struct {
	ID, Name, Peer string // the list's element id, the channel, the peer package
	Items          []channelItem
	Total          int
}

type channelsData struct {
	Dev   bool
	Lists []channelList
}

// devChannels shows what the SMS, mobile push and chat peers accepted
// (channels.go), newest first, of the request's organisation: the texts
// and pushes to its people's numbers and devices, the posts to its
// webhooks.
func (a *App) devChannels(w http.ResponseWriter, r *http.Request) {
	d := channelsData{Dev: a.fan != nil && a.fan.peers != nil}
	if !d.Dev {
		a.render(w, r, http.StatusOK, "channels", "Dev channels", "channels", d)
		return
	}
	ctx := r.Context()
	var users []User
	if err := a.inOrg(ctx).Order("id").Find(&users).Error; err != nil {
		a.fail(w, r, err)
		return
	}
	ids := make([]string, len(users))
	names := map[string]string{}
	for i, u := range users {
		ids[i] = strconv.FormatInt(u.ID, 10)
		names[ids[i]] = u.Name
	}
	devices, err := device.ListFor(ctx, a.db, ids, device.Phone, device.FCM, device.APNs) // in the request's organisation
	if err != nil {
		a.fail(w, r, err)
		return
	}
	owner := map[string]string{} // number or token -> "Ana Lima (label)"
	for id, list := range devices {
		for _, dv := range list {
			owner[string(dv.Kind)+" "+dv.Address] = names[id] + " (" + dv.Label + ")"
		}
	}
	p := a.fan.peers
	hook := chatHook(orgOf(ctx))
	list := func(id, name, peer string, items []channelItem) {
		slices.Reverse(items)
		d.Lists = append(d.Lists, channelList{ID: id, Name: name, Peer: peer, Items: items[:min(len(items), devPageSize)], Total: len(items)})
	}

	var texts []channelItem
	for _, m := range p.twilio.Accepted() {
		if who, ok := owner[string(device.Phone)+" "+m.To]; ok {
			texts = append(texts, channelItem{To: who + " " + m.To, Text: m.Body})
		}
	}
	list("sms", "SMS through Twilio", "inbox/sms/twiliotest", texts)
	var android []channelItem
	for _, m := range p.fcm.Accepted() {
		if who, ok := owner[string(device.FCM)+" "+m.Token]; ok {
			android = append(android, channelItem{To: who, Title: m.Title, Text: m.Body})
		}
	}
	list("fcm", "Push through FCM", "inbox/mobilepush/fcmtest", android)
	var ios []channelItem
	for _, m := range p.apns.Accepted() {
		if who, ok := owner[string(device.APNs)+" "+m.Token]; ok {
			ios = append(ios, channelItem{To: who, Title: m.Title, Text: m.Body})
		}
	}
	list("apns", "Push through APNs", "inbox/mobilepush/apnstest", ios)
	var dposts []channelItem
	for _, m := range p.discord.Messages() {
		if m.WebhookID == hook {
			text := []string{discordShow(m.Payload.Content)}
			for _, e := range m.Payload.Embeds {
				text = append(text, discordShow(e.Description))
			}
			dposts = append(dposts, channelItem{To: "webhook " + m.WebhookID, Text: strings.Join(text, "\n")})
		}
	}
	list("discord", "Discord webhook", "inbox/chat/discord/discordtest", dposts)
	var tposts []channelItem
	for _, m := range p.teams.Messages() {
		if m.WebhookID == hook {
			tposts = append(tposts, channelItem{To: "webhook " + m.WebhookID, Text: strings.Join(m.Payload.Texts(), "\n")})
		}
	}
	list("teams", "Teams webhook", "inbox/chat/teams/teamstest", tposts)
	a.render(w, r, http.StatusOK, "channels", "Dev channels", "channels", d)
}

// discordEscaped matches a markdown character escaped by discord.Escape.
var discordEscaped = regexp.MustCompile("\\\\([\\\\*_~`|<>\\[\\]()#-])")

// discordShow shows markdown as a Discord client shows escaped text: each
// escaped character as itself. The page escapes the result.
func discordShow(s string) string { return discordEscaped.ReplaceAllString(s, "$1") }
